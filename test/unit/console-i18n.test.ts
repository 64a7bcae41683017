import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zh } from '../../web/src/zh.js';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : /\.tsx?$/.test(e.name)
        ? [path.join(dir, e.name)]
        : [],
  );
}

/** Every literal phrase the console translates with t('…'), and the labels of its menu and channel types. */
function phrases(): Set<string> {
  const out = new Set<string>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\bt\(\s*'((?:[^'\\]|\\.)*)'/g)) out.add(m[1]!.replace(/\\'/g, "'"));
    if (/App\.tsx$|channelTypes\.ts$/.test(file))
      for (const m of text.matchAll(/\b(?:label|description): '((?:[^'\\]|\\.)*)'/g)) out.add(m[1]!);
  }
  return out;
}

describe('console translations', () => {
  it('has a Chinese phrase for every English phrase of the console', () => {
    const all = phrases();
    expect(all.size).to.be.greaterThan(200);
    const missing = [...all].filter((p) => !(p in zh) && p !== '中文' && p !== 'English');
    expect(missing).to.deep.equal([]);
  });

  it('keeps every {placeholder} of a phrase in its translation', () => {
    for (const [en, cn] of Object.entries(zh)) {
      const vars = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      expect(vars(cn), en).to.deep.equal(vars(en));
    }
  });
});
