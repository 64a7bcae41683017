import fs from 'node:fs';

const README = new URL('../../README.md', import.meta.url);

/** The fenced code block that follows `<!-- quickstart:<name> … -->` in README.md. */
export function readmeBlock(name: string): { lang: string; code: string } {
  const text = fs.readFileSync(README, 'utf8');
  const marker = text.indexOf(`<!-- quickstart:${name}`);
  if (marker < 0) throw new Error(`README.md has no <!-- quickstart:${name} --> marker`);
  const m = /```(\w+)\n([\s\S]*?)\n```/.exec(text.slice(marker));
  if (!m) throw new Error(`no code block after the quickstart:${name} marker`);
  return { lang: m[1]!, code: m[2]! };
}

/**
 * Splits a shell snippet into its commands as a shell reads them: a command ends at a newline
 * outside quotes that is not escaped; `#` outside quotes at the start of a word comments out the
 * rest of the line. Comments and blank lines are dropped.
 */
export function shellCommands(script: string): string[] {
  const commands: string[] = [];
  let current = '';
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < script.length; i++) {
    const c = script[i]!;
    if (quote) {
      current += c;
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < script.length) current += script[++i];
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      current += c;
    } else if (c === '\\' && script[i + 1] === '\n') {
      current += ' ';
      i++;
    } else if (c === '#' && (current === '' || /\s$/.test(current))) {
      while (i + 1 < script.length && script[i + 1] !== '\n') i++;
    } else if (c === '\n') {
      if (current.trim()) commands.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  if (quote) throw new Error(`unterminated ${quote} quote in the snippet`);
  if (current.trim()) commands.push(current.trim());
  return commands;
}
