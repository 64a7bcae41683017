/**
 * Writes the environment table of docs/configuration.md from the declarations in
 * lib/config/env.declarations.ts (between its env-table markers), formatted by prettier.
 * `npm run docs:env`; `test/unit/config.test.ts` fails when the page and the declarations differ.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { envTableMarkdown } from '../lib/config/config.js';

const file = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));
const page = fs.readFileSync(file, 'utf8');
const markers = /(<!-- env-table:start -->)[\s\S]*?(<!-- env-table:end -->)/;
if (!markers.test(page)) throw new Error(`${file} has no env-table markers`);
const next = page.replace(
  markers,
  (_m, start: string, end: string) => `${start}\n\n${envTableMarkdown()}\n\n${end}`,
);
const options = (await prettier.resolveConfig(file)) ?? {};
fs.writeFileSync(file, await prettier.format(next, { ...options, filepath: file }));
console.log(`wrote ${file}`);
