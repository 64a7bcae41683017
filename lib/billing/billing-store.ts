import type { UsageRecord } from '../db/repositories/usage-log.repository.js';

/** Whose balance: a token's own quota, or its user's (a request draws on both). */
export type BalanceOwner = 'token' | 'user';

/** One rate-limit window a request counts against. */
export interface Limiter {
  /** Names the window in the store: `{scope}:{id}:{rpm|tpm}`. */
  key: string;
  scope: 'token' | 'user' | 'group';
  kind: 'requests' | 'tokens';
  /** Per minute. */
  limit: number;
  /** What this request counts now: 1 request, or its estimated tokens. */
  cost: number;
}

/** Everything checked and taken, atomically, before the upstream call. */
export interface Admission {
  chargeId: string;
  tokenId: number;
  userId: number;
  /** Quota units held until the request settles. */
  reserve: number;
  limiters: Limiter[];
}

/** A limiter's state after an admission: what could pass now, and when its bucket is full again. */
export interface WindowState {
  remaining: number;
  resetMs: number;
}

export type AdmitResult =
  | { kind: 'ok'; windows: WindowState[]; tokenLimited: boolean; userLimited: boolean }
  | { kind: 'rate'; limiter: number; retryAfterMs: number }
  | { kind: 'quota'; who: BalanceOwner };

/** What settles a request: its real charge, and the usage row that records it. */
export interface Settlement {
  chargeId: string;
  tokenId: number;
  userId: number;
  /** Quota units charged (0 for a failed request: its hold is refunded). */
  quota: number;
  /** Real tokens minus the estimate counted at admission, for the token windows. */
  tokensDelta: number;
  /** The `tokens` limiters of the admission, corrected by `tokensDelta`. */
  tokenWindows: { key: string; limit: number }[];
  usage: UsageRecord;
}

export type { ChargeEntry } from '../db/repositories/charge.repository.js';

/**
 * A change an admin made to a stored quota. `delta` is what it added, computed under the row
 * lock; null when the quota switched between unlimited and limited (the balance is set again).
 */
export interface QuotaChange {
  who: BalanceOwner;
  id: number;
  quota: number | null;
  delta: number | null;
  /** Names the change: applied to a live balance once, however often it is sent. */
  changeId: string;
  /** The row's `quota_rev` after the change: a balance loaded at it or later holds it already. */
  rev: number;
}

/** Reads a stored quota to load a balance: null is unlimited, undefined is a row that is gone. */
export type QuotaSource = (who: BalanceOwner, id: number) => Promise<number | null | undefined>;

/** A stored quota and the `quota_rev` it was read at. */
export interface StoredQuota {
  quota: number | null;
  rev: number;
}

/** Reads a stored quota with its revision (undefined: the row is gone). */
export type StoredQuotaSource = (who: BalanceOwner, id: number) => Promise<StoredQuota | undefined>;

/**
 * Where live balances, holds and rate windows are kept, with the same semantics everywhere:
 * Redis (Lua) in a cluster, memory on a single node. Each call is atomic.
 */
export interface BillingStore {
  /** Checks every limiter and both balances; when all pass, counts the request and holds `reserve`. */
  admit(a: Admission): Promise<AdmitResult>;
  /** Releases the hold, charges `quota`, and records the charge for the database. */
  settle(s: Settlement): Promise<void>;
  /** Brings a live balance in line with an admin's change to the stored quota. */
  changeQuota(c: QuotaChange): Promise<void>;
  /** Counts one hit in a plain per-minute window (the admin API's per-IP limit). */
  hit(key: string, limit: number): Promise<{ ok: boolean; retryAfterMs: number }>;
}

/** Rate limits are per minute: a bucket of `limit` that refills over this many seconds. */
export const WINDOW_SECONDS = 60;
