import { WINDOW_SECONDS } from './billing-store.js';

const WINDOW_MS = WINDOW_SECONDS * 1000;

/** The result of taking `cost` from a bucket. */
export type Take =
  { ok: true; tat: number; remaining: number; resetMs: number } | { ok: false; retryAfterMs: number };

/**
 * A rate limit of `limit` per minute as a bucket that holds `limit` and refills continuously
 * (GCRA: the state is one number, the "theoretical arrival time" `tat`, in ms). A burst of
 * `limit` passes at once, then `limit` per minute. `remaining` is what could pass right now,
 * `resetMs` the time until the bucket is full again (OpenAI's headers say the same).
 * The Redis store runs the same arithmetic in Lua (billing-scripts.ts).
 */
export function take(tat: number | undefined, now: number, limit: number, cost: number): Take {
  if (cost > limit) return { ok: false, retryAfterMs: -1 };
  const per = WINDOW_MS / limit;
  const next = Math.max(tat ?? now, now) + cost * per;
  const over = next - now - WINDOW_MS;
  if (over > 0) return { ok: false, retryAfterMs: Math.ceil(over) };
  return {
    ok: true,
    tat: next,
    remaining: Math.floor(limit - (next - now) / per),
    resetMs: Math.ceil(next - now),
  };
}

/** Gives back (or takes more of) what a request used: `delta` units, positive or negative. */
export function correct(tat: number, limit: number, delta: number): number {
  return tat + delta * (WINDOW_MS / limit);
}
