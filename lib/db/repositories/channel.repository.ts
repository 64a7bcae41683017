import type { Knex } from 'knex';
import { ConflictError } from '../../errors/conflict.error.js';
import { num, numOrNull, readJson } from '../json-column.js';
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

function toRecord(r: Record<string, unknown>): ChannelRecord {
  return {
    id: num(r.id),
    name: String(r.name),
    type: String(r.type),
    baseUrl: String(r.base_url),
    keyEnc: String(r.key_enc),
    keyMasked: String(r.key_masked),
    models: readJson<string[]>(r.models, []),
    groups: readJson<string[]>(r.groups, []),
    modelMapping: readJson<Record<string, string>>(r.model_mapping, {}),
    priority: num(r.priority),
    weight: num(r.weight),
    status: r.status as ChannelStatus,
    statusReason: r.status_reason == null ? null : String(r.status_reason),
    statusChangedAt: numOrNull(r.status_changed_at),
    connectTimeoutMs: numOrNull(r.connect_timeout_ms),
    firstByteTimeoutMs: numOrNull(r.first_byte_timeout_ms),
    idleTimeoutMs: numOrNull(r.idle_timeout_ms),
    testModel: r.test_model == null ? null : String(r.test_model),
    settings: readJson<Record<string, unknown>>(r.settings, {}),
    version: num(r.version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toRow(v: Partial<ChannelValues>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  if (v.name !== undefined) row.name = v.name;
  if (v.type !== undefined) row.type = v.type;
  if (v.baseUrl !== undefined) row.base_url = v.baseUrl;
  if (v.keyEnc !== undefined) row.key_enc = v.keyEnc;
  if (v.keyMasked !== undefined) row.key_masked = v.keyMasked;
  if (v.models !== undefined) row.models = JSON.stringify(v.models);
  if (v.groups !== undefined) row.groups = JSON.stringify(v.groups);
  if (v.modelMapping !== undefined) row.model_mapping = JSON.stringify(v.modelMapping);
  if (v.priority !== undefined) row.priority = v.priority;
  if (v.weight !== undefined) row.weight = v.weight;
  if (v.status !== undefined) row.status = v.status;
  if (v.statusReason !== undefined) row.status_reason = v.statusReason;
  if (v.statusChangedAt !== undefined) row.status_changed_at = v.statusChangedAt;
  if (v.connectTimeoutMs !== undefined) row.connect_timeout_ms = v.connectTimeoutMs;
  if (v.firstByteTimeoutMs !== undefined) row.first_byte_timeout_ms = v.firstByteTimeoutMs;
  if (v.idleTimeoutMs !== undefined) row.idle_timeout_ms = v.idleTimeoutMs;
  if (v.testModel !== undefined) row.test_model = v.testModel;
  if (v.settings !== undefined) row.settings = JSON.stringify(v.settings);
  return row;
}

/** The only code that queries `channels`. */
export class ChannelRepository {
  constructor(private readonly db: Db) {}

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
