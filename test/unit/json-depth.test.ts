import { expect } from 'chai';
import { jsonDepthExceeds, JsonDepthScanner } from '../../lib/http/json-body.js';

describe('JSON nesting pre-scan', () => {
  const cases: [string, number, boolean][] = [
    ['[[[]]]', 3, false],
    ['[[[]]]', 2, true],
    ['{"a":{"b":[1,{"c":2}]}}', 4, false],
    ['{"a":{"b":[1,{"c":2}]}}', 3, true],
    ['{"a":"[[[[[[["}', 1, false],
    ['{"a":"\\"[[[[["}', 1, false],
    ['{"a":"\\\\"}', 1, false],
    ['{"a":"\\\\",[[["b"]]]}', 3, true],
    ['{"a":"x\\\\\\"[[[["}', 1, false],
  ];

  it('counts arrays and objects, never brackets inside strings (escapes included)', () => {
    for (const [text, max, deeper] of cases)
      expect(jsonDepthExceeds(Buffer.from(text), max), text).to.equal(deeper);
  });

  it('gives the same verdict however the body is cut into chunks', () => {
    for (const [text, max, deeper] of cases) {
      const bytes = Buffer.from(text);
      for (let size = 1; size <= 4; size++) {
        const scanner = new JsonDepthScanner(max);
        let verdict = false;
        for (let o = 0; o < bytes.length && !verdict; o += size)
          verdict = scanner.push(bytes.subarray(o, o + size));
        expect(verdict, `${text} in chunks of ${size}`).to.equal(deeper);
      }
    }
  });

  it('agrees with JSON.parse on the depth of generated documents', () => {
    const nest = (d: number): unknown => (d === 0 ? 'x"[\\' : d % 2 ? [nest(d - 1)] : { k: nest(d - 1) });
    for (let d = 0; d < 40; d++) {
      const text = JSON.stringify(nest(d));
      expect(jsonDepthExceeds(Buffer.from(text), d), `depth ${d}`).to.equal(false);
      if (d > 0) expect(jsonDepthExceeds(Buffer.from(text), d - 1), `depth ${d}`).to.equal(true);
    }
  });
});
