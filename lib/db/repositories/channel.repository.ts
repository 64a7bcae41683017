import type { Knex } from 'knex';
import { ConflictError } from '../../errors/conflict.error.js';
import { col, TableMap } from '../columns.js';
import { num } from '../json-column.js';
import type { Db, Trx } from '../knex.js';
import { mapUniqueViolation, paginate } from '../query-helpers.js';
import { whereContains } from '../where-contains.js';

export type ChannelStatus = 'enabled' | 'disabled' | 'auto_disabled';

/** A channel as stored: the upstream key only in its encrypted form. */
export interface ChannelRecord {
  id: number;
  name: string;
  type: string;
  baseUrl: string;
  keyEnc: string;
  keyMasked: string;
  models: string[];
  groups: string[];
  modelMapping: Record<string, string>;
  priority: number;
  weight: number;
  status: ChannelStatus;
  statusReason: string | null;
  /** When the status last changed (ms); null for a channel never disabled or re-enabled. */
  statusChangedAt: number | null;
  /** Per-channel timeouts (ms); null means the global setting. */
  connectTimeoutMs: number | null;
  firstByteTimeoutMs: number | null;
  idleTimeoutMs: number | null;
  /** The model a channel test asks for; null means the first of `models`. */
  testModel: string | null;
  /** Provider settings (an API version, a region…), as validated by the adapter of `type`. */
  settings: Record<string, unknown>;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** The columns a write may set. */
export type ChannelValues = Omit<ChannelRecord, 'id' | 'version' | 'createdAt' | 'updatedAt'>;

export interface ChannelListFilter {
  page: number;
  perPage: number;
  q?: string;
  status?: ChannelStatus;
  type?: string;
  group?: string;
  model?: string;
  sort?: ChannelSort;
  order?: 'asc' | 'desc';
}

/** The columns a channel list may be sorted by (each indexed, with id as the tie-break). */
export const CHANNEL_SORTS = ['id', 'name', 'type', 'priority', 'weight', 'status', 'updated_at'] as const;
export type ChannelSort = (typeof CHANNEL_SORTS)[number];

const conflict = (name: string | undefined) => () =>
  new ConflictError(`A channel named "${name ?? ''}" already exists`, { param: 'name' });

/** The `channels` table, described once. */
const channels = new TableMap<ChannelRecord>({
  id: col.number('id'),
  name: col.string('name'),
  type: col.string('type'),
  baseUrl: col.string('base_url'),
  keyEnc: col.string('key_enc'),
  keyMasked: col.string('key_masked'),
  models: col.json<string[]>('models', []),
  groups: col.json<string[]>('groups', []),
  modelMapping: col.json<Record<string, string>>('model_mapping', {}),
  priority: col.number('priority'),
  weight: col.number('weight'),
  status: col.oneOf<ChannelStatus>('status'),
  statusReason: col.stringOrNull('status_reason'),
  statusChangedAt: col.numberOrNull('status_changed_at'),
  connectTimeoutMs: col.numberOrNull('connect_timeout_ms'),
  firstByteTimeoutMs: col.numberOrNull('first_byte_timeout_ms'),
  idleTimeoutMs: col.numberOrNull('idle_timeout_ms'),
  testModel: col.stringOrNull('test_model'),
  settings: col.json<Record<string, unknown>>('settings', {}),
  version: col.number('version'),
  createdAt: col.number('created_at'),
  updatedAt: col.number('updated_at'),
});
const toRecord = (r: Record<string, unknown>) => channels.toRecord(r);
const toRow = (v: Partial<ChannelValues>) => channels.toRow(v);

/** The only code that queries `channels`. */
export class ChannelRepository {
  constructor(private readonly db: Db) {}

  /** Every channel's id and version (what a node's routing digest is compared with). */
  async versions(): Promise<[number, number][]> {
    const rows = (await this.db('channels').select('id', 'version')) as { id: unknown; version: unknown }[];
    return rows.map((r) => [num(r.id), num(r.version)]);
  }

  /** The names of the rows in `ids` (those that still exist). */
  async namesByIds(ids: number[]): Promise<Map<number, string>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.db('channels').whereIn('id', ids).select('id', 'name')) as {
      id: unknown;
      name: unknown;
    }[];
    return new Map(rows.map((r) => [num(r.id), String(r.name)]));
  }

  async findById(id: number, q: Knex = this.db): Promise<ChannelRecord | undefined> {
    const row = await q('channels').where({ id }).first();
    return row ? toRecord(row) : undefined;
  }

  async findAll(q: Knex = this.db): Promise<ChannelRecord[]> {
    const rows = await q('channels').select('*').orderBy('id');
    return rows.map(toRecord);
  }

  async list(f: ChannelListFilter): Promise<{ rows: ChannelRecord[]; total: number }> {
    const base = this.db('channels').where((w) => {
      if (f.q) w.where((x) => whereContains(whereContains(x, 'name', f.q!), 'base_url', f.q!, 'or'));
      if (f.status) w.where('status', f.status);
      if (f.type) w.where('type', f.type);
      // Lists are JSON text: match the quoted element so "gpt-4" does not match "gpt-4o".
      if (f.group) whereContains(w, 'groups', JSON.stringify(f.group));
      if (f.model) whereContains(w, 'models', JSON.stringify(f.model));
    });
    return paginate(base, f.page, f.perPage, toRecord, {
      column: f.sort ?? 'id',
      dir: f.order ?? 'asc',
    });
  }

  async insert(trx: Trx, values: ChannelValues, version: number): Promise<number> {
    const now = Date.now();
    const row = { ...toRow(values), version, created_at: now, updated_at: now };
    const [id] = await mapUniqueViolation(() => trx('channels').insert(row), conflict(values.name));
    return num(id);
  }

  async update(trx: Trx, id: number, values: Partial<ChannelValues>, version: number): Promise<void> {
    const row = { ...toRow(values), version, updated_at: Date.now() };
    await mapUniqueViolation(() => trx('channels').where({ id }).update(row), conflict(values.name));
  }

  async delete(trx: Trx, id: number): Promise<boolean> {
    return (await trx('channels').where({ id }).delete()) > 0;
  }
}
