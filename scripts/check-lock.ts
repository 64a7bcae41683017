/**
 * Fails when package-lock.json misses a package some locked package lists as optional: usually
 * another platform's native build (msgpackr-extract's, esbuild's…), which npm leaves out when it
 * rewrites the lock from a node_modules installed for one platform. `npm ci` on the other
 * platforms then refuses the lock ("Missing: … from lock file"). Run by `npm run lint`.
 * The fix: `npm install --package-lock-only` (it adds the missing entries), then commit the lock.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

interface LockedPackage {
  optionalDependencies?: Record<string, string>;
}

const file = fileURLToPath(new URL('../package-lock.json', import.meta.url));
const lock = JSON.parse(fs.readFileSync(file, 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
};
if (lock.lockfileVersion < 2)
  throw new Error(`${file}: lockfileVersion ${lock.lockfileVersion} has no "packages"`);

/** Where Node would find `dep` from the package at `at`: its own node_modules, then each parent's. */
function resolves(at: string, dep: string): boolean {
  let dir = at;
  for (;;) {
    if (lock.packages[`${dir ? `${dir}/` : ''}node_modules/${dep}`]) return true;
    if (!dir) return false;
    const cut = dir.lastIndexOf('/node_modules/');
    dir = cut < 0 ? '' : dir.slice(0, cut);
  }
}

const missing: string[] = [];
for (const [at, pkg] of Object.entries(lock.packages)) {
  for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
    if (!resolves(at, dep)) missing.push(`${dep} (optional dependency of ${at || 'the root package'})`);
  }
}
if (missing.length > 0) {
  console.error(
    `package-lock.json misses ${missing.length} optional package(s), so \`npm ci\` fails on the platforms they are for:\n  ` +
      missing.join('\n  ') +
      '\nRun `npm install --package-lock-only` and commit package-lock.json.',
  );
  process.exit(1);
}
console.log(
  `package-lock.json records every optional package (${Object.keys(lock.packages).length} entries)`,
);
