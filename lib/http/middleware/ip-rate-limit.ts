import type { NextFunction, Request, Response } from 'express';
import { RateLimitError } from '../../errors/rate-limit.error.js';

/** Counts one hit per call in a per-minute window (cluster-wide in Redis, else in memory). */
export interface HitCounter {
  hit(key: string, limit: number): Promise<{ ok: boolean; retryAfterMs: number }>;
}

/**
 * Limits each client IP to `perMinute` requests to the admin API, before authentication (so it
 * also slows down guessing access tokens). A counter that fails lets the request through: the
 * admin API must stay usable to repair the cluster.
 */
export function ipRateLimit(counter: HitCounter, perMinute: number) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (perMinute <= 0) return next();
    let verdict: { ok: boolean; retryAfterMs: number };
    try {
      verdict = await counter.hit(`ip:${req.ip ?? 'unknown'}`, perMinute);
    } catch {
      return next();
    }
    res.setHeader('x-ratelimit-limit-requests', String(perMinute));
    if (verdict.ok) return next();
    const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
    next(
      new RateLimitError(
        'requests',
        `Too many admin API requests from this address: try again in ${seconds}s`,
        {
          headers: { 'retry-after': String(seconds) },
        },
      ),
    );
  };
}
