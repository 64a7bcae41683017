import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const TUNING = fileURLToPath(new URL('../../lib/obs/gc-tuning.ts', import.meta.url));

/**
 * In a node process of its own (V8 flags are process-wide): a literal whose objects all live on
 * through minor GCs, then the share of the same literal's new objects born in old space.
 */
function bornOld(withTuning: boolean): number {
  const script = `
    ${withTuning ? `await import(${JSON.stringify(TUNING)});` : ''}
    const young = new Function('o', 'return %InYoungGeneration(o)');
    function make(i) { return { i, tag: 'kept', list: [i] }; }
    const kept = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 2000; i++) kept.push(make(i));
      globalThis.gc({ type: 'minor' });
    }
    let old = 0;
    for (let i = 0; i < 100; i++) if (!young(make(i))) old++;
    process.stdout.write(String(old));
  `;
  const out = execFileSync(
    process.execPath,
    [
      '--allow-natives-syntax',
      '--expose-gc',
      // A new space at its largest from the start: V8 pretenures only after such a minor GC.
      '--max-semi-space-size=1',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
    ],
    { encoding: 'utf8', timeout: 15_000 },
  );
  return Number(out);
}

describe('gc tuning (V8 allocation-site pretenuring off)', () => {
  it('without it, a literal whose objects survived minor GCs allocates into old space (what the test guards against)', () => {
    expect(bornOld(false)).to.be.greaterThan(50);
  });

  it('with it, the same literal keeps allocating young objects', () => {
    expect(bornOld(true)).to.equal(0);
  });

  it('main.ts imports it before any other module', () => {
    const main = fs.readFileSync(fileURLToPath(new URL('../../lib/main.ts', import.meta.url)), 'utf8');
    const imports = [...main.matchAll(/^import\s.*?['"]([^'"]+)['"];?$/gm)].map((m) => m[1]);
    expect(imports[0]).to.equal('./obs/gc-tuning.js');
  });
});
