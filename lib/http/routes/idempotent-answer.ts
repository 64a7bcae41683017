import type { Request, Response } from 'express';
import { claimOf, type IdempotencyClaim } from '../../admin/idempotent-writes.js';
import { actorOf } from '../middleware/admin-auth.js';

/**
 * Answers a money-moving write that takes an `Idempotency-Key`: the caller's claim on the key
 * (none without the header; a malformed key is a 400 before the write), the write under it, and
 * `idempotent-replayed: true` when the answer is the first call's, replayed.
 */
export async function answerIdempotent(
  req: Request,
  res: Response,
  write: (claim: IdempotencyClaim | undefined) => Promise<unknown>,
): Promise<void> {
  const claim = claimOf(req.headers['idempotency-key'], actorOf(res), req);
  const data = await write(claim);
  if (claim?.replayed) res.setHeader('idempotent-replayed', 'true');
  res.json({ data });
}
