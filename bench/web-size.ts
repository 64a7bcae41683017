/**
 * The console's initial download, gzipped: index.html and the scripts and styles it loads before
 * the first page shows (pages and the chart library are separate chunks, loaded when opened).
 * Fails when it is over the budget. Run after `npm run build:web`: `npm run bench:web-size`.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The budget for the initial load (HTML + JS + CSS, gzipped). */
export const INITIAL_BUDGET_KB = 170;

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../web/dist');
const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;
const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
const rows = [
  ['index.html', gz(path.join(DIST, 'index.html'))] as const,
  ...initial.map((f) => [f, gz(path.join(DIST, f))] as const),
];
const total = rows.reduce((s, [, n]) => s + n, 0);
for (const [f, n] of rows) console.log(`${(n / 1024).toFixed(1).padStart(7)} KB  ${f}`);
console.log(
  `${(total / 1024).toFixed(1).padStart(7)} KB  initial load, gzipped (budget ${INITIAL_BUDGET_KB} KB)`,
);
const lazy = readdirSync(path.join(DIST, 'assets')).filter((f) => !initial.includes(`assets/${f}`));
const lazyTotal = lazy.reduce((s, f) => s + gz(path.join(DIST, 'assets', f)), 0);
const largest = lazy.sort(
  (a, b) => statSync(path.join(DIST, 'assets', b)).size - statSync(path.join(DIST, 'assets', a)).size,
)[0];
console.log(
  `${(lazyTotal / 1024).toFixed(1).padStart(7)} KB  ${lazy.length} lazy chunks, gzipped (largest: ${largest})`,
);
if (total > INITIAL_BUDGET_KB * 1024) {
  console.error(`over budget by ${((total - INITIAL_BUDGET_KB * 1024) / 1024).toFixed(1)} KB`);
  process.exit(1);
}
