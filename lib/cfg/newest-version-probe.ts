import type { ConfigState } from '../db/repositories/config-state.repository.js';
import type { VersionProbe } from './config-sync.js';

/** A database read that takes longer than this is left out of a poll (the next poll tries again). */
const DB_READ_LIMIT_MS = 1000;

/**
 * A cluster node's poll: Redis's `cfg:version`/`cfg:epoch` and the database's `config_state`
 * row, whichever is newer. A change committed without a publish (written in SQL, or by a master
 * that died between its commit and its publish) never raises `cfg:version`; reading the
 * database's one row as well bounds how long it waits by the poll interval (`CONFIG_POLL_MS`),
 * not by the `config-resync` job. Redis without a version still means a full resync; the
 * database's epoch wins over Redis's (it is the one a reset or restore changes).
 */
export class NewestVersionProbe implements VersionProbe {
  constructor(
    private readonly redis: VersionProbe,
    private readonly db: VersionProbe,
  ) {}

  async read(): Promise<ConfigState | undefined> {
    const [r, d] = await Promise.allSettled([this.redis.read(), withLimit(this.db.read())]);
    const fromDb = d.status === 'fulfilled' ? d.value : undefined;
    if (r.status === 'rejected') {
      if (fromDb) return fromDb;
      throw r.reason;
    }
    const fromRedis = r.value;
    if (fromRedis === undefined) return undefined;
    if (fromDb && (fromDb.epoch !== fromRedis.epoch || fromDb.version > fromRedis.version)) return fromDb;
    return fromRedis;
  }
}

function withLimit<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('config_state read took too long')), DB_READ_LIMIT_MS);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
