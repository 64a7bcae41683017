import { num, numOrNull } from '../json-column.js';
import type { Db } from '../knex.js';

/** The last test of a channel. */
export interface ChannelTestRecord {
  channelId: number;
  testedAt: number;
  ok: boolean;
  latencyMs: number;
  /** The upstream's HTTP status; null when none came (a timeout, a refused connection). */
  status: number | null;
  model: string;
  message: string | null;
}

function toRecord(r: Record<string, unknown>): ChannelTestRecord {
  return {
    channelId: num(r.channel_id),
    testedAt: num(r.tested_at),
    ok: Boolean(num(r.ok)),
    latencyMs: num(r.latency_ms),
    status: numOrNull(r.status),
    model: String(r.model),
    message: r.message == null ? null : String(r.message),
  };
}

/** The only code that queries `channel_tests`. */
export class ChannelTestRepository {
  constructor(private readonly db: Db) {}

  /** Replaces the channel's last test. */
  async save(t: ChannelTestRecord): Promise<void> {
    const row = {
      tested_at: t.testedAt,
      ok: t.ok,
      latency_ms: Math.min(2_147_483_647, Math.round(t.latencyMs)),
      status: t.status,
      model: t.model.slice(0, 128),
      message: t.message === null ? null : t.message.slice(0, 500),
    };
    await this.db('channel_tests')
      .insert({ channel_id: t.channelId, ...row })
      .onConflict('channel_id')
      .merge(row);
  }

  async find(ids: readonly number[]): Promise<Map<number, ChannelTestRecord>> {
    if (ids.length === 0) return new Map();
    const rows = await this.db('channel_tests').whereIn('channel_id', ids);
    return new Map(rows.map((r: Record<string, unknown>) => [num(r.channel_id), toRecord(r)]));
  }
}
