import type { Knex } from 'knex';
import { num, numOrNull } from '../json-column.js';
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

function toRecord(r: Record<string, unknown>): PriceRecord {
  return {
    model: String(r.model),
    input: num(r.input),
    output: num(r.output),
    cachedInput: numOrNull(r.cached_input),
    cacheWriteInput: numOrNull(r.cache_write_input),
    version: num(r.version),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

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
    const values = {
      input: v.input,
      output: v.output,
      cached_input: v.cachedInput,
      cache_write_input: v.cacheWriteInput,
      version,
      updated_at: now,
    };
    const updated = await trx('prices').where({ model }).update(values);
    if (updated === 0) await trx('prices').insert({ model, ...values, created_at: now });
  }

  async delete(trx: Trx, model: string): Promise<boolean> {
    return (await trx('prices').where({ model }).delete()) > 0;
  }
}
