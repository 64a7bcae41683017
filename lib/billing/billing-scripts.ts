import fs from 'node:fs';

/**
 * The Lua behind {@link RedisBillingStore}, one file per script under `scripts/` (each file's
 * header states its KEYS, ARGV and result). A script whose header says `uses: bucket` or
 * `uses: balance` gets the shared helpers of `_bucket.lua` / `_balance.lua` put in front of it.
 * The files are read once, when this module is first imported: from `lib/billing/scripts`
 * under tsx, and from `dist/lib/billing/scripts` (copied there by `npm run build`) under node.
 */
function script(name: string): string {
  const read = (file: string) => fs.readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8');
  const body = read(`${name}.lua`);
  const uses =
    /^-- uses: (.+)$/m
      .exec(body)?.[1]
      ?.split(',')
      .map((s) => s.trim()) ?? [];
  return [...uses.map((u) => read(`_${u}.lua`)), body].join('\n');
}

export const ADMIT = script('admit');
export const SETTLE = script('settle');
export const REAP = script('reap');
export const LOAD = script('load');
export const CHANGE = script('change');
export const REPAY = script('repay');
export const ACK = script('ack');
export const RECONCILE = script('reconcile');
export const HIT = script('hit');
export const UNLOCK = script('unlock');
