import type { Knex } from 'knex';
import { col, TableMap } from '../columns.js';
import type { Db, Trx } from '../knex.js';

/** What one model costs, in US dollars per 1M tokens. */
export interface PriceRecord {
  model: string;
  input: number;
  output: number;
  /** For prompt tokens the upstream reports as cached; null: charged as `input`. */
  cachedInput: number | null;
  /** For prompt tokens the upstream reports as written to its cache (Anthropic); null: charged as `input`. */
  cacheWriteInput: number | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

export type PriceValues = Pick<PriceRecord, 'input' | 'output' | 'cachedInput' | 'cacheWriteInput'>;

/** The `prices` table, described once. */
const prices = new TableMap<PriceRecord>({
  model: col.string('model'),
  input: col.number('input'),
  output: col.number('output'),
  cachedInput: col.numberOrNull('cached_input'),
  cacheWriteInput: col.numberOrNull('cache_write_input'),
  version: col.number('version'),
  createdAt: col.number('created_at'),
  updatedAt: col.number('updated_at'),
});
const toRecord = (r: Record<string, unknown>) => prices.toRecord(r);

/** The only code that queries `prices`. */
export class PriceRepository {
  constructor(private readonly db: Db) {}

  async findAll(q: Knex = this.db): Promise<PriceRecord[]> {
    return (await q('prices').select('*').orderBy('model')).map(toRecord);
  }

  async find(model: string, q: Knex = this.db): Promise<PriceRecord | undefined> {
    const row = await q('prices').where({ model }).first();
    return row ? toRecord(row) : undefined;
  }

  /** Creates or replaces the price of `model`. */
  async upsert(trx: Trx, model: string, v: PriceValues, version: number): Promise<void> {
    const now = Date.now();
    const values = { ...prices.toRow(v), version, updated_at: now };
    const updated = await trx('prices').where({ model }).update(values);
    if (updated === 0) await trx('prices').insert({ model, ...values, created_at: now });
  }

  async delete(trx: Trx, model: string): Promise<boolean> {
    return (await trx('prices').where({ model }).delete()) > 0;
  }
}
