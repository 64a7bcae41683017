import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { zh } from './zh';

/**
 * Two languages: English (the keys themselves) and Chinese (zh.ts maps each English phrase).
 * A phrase may hold `{name}` placeholders, filled from `vars`.
 */
export type Lang = 'en' | 'zh';

interface I18n {
  lang: Lang;
  setLang(lang: Lang): void;
  t(phrase: string, vars?: Record<string, string | number>): string;
}

const I18nContext = createContext<I18n | null>(null);

function initialLang(): Lang {
  const saved = localStorage.getItem('sy-lang');
  if (saved === 'en' || saved === 'zh') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((l: Lang) => {
    localStorage.setItem('sy-lang', l);
    document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
    setLangState(l);
  }, []);
  const t = useCallback(
    (phrase: string, vars?: Record<string, string | number>) => {
      let s = lang === 'zh' ? (zh[phrase] ?? phrase) : phrase;
      if (vars) for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
      return s;
    },
    [lang],
  );
  const value = useMemo(() => ({ lang, setLang, t }), [lang, setLang, t]);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(I18nContext);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}

export function useT(): I18n['t'] {
  return useI18n().t;
}
