import type { Knex } from 'knex';
import { num } from '../json-column.js';
import type { Db, Trx } from '../knex.js';

export type SeedOutcome = 'seeded' | 'kept';

export interface PriceSeedRecord {
  model: string;
  catalogueVersion: number;
  outcome: SeedOutcome;
  seededAt: number;
}

/** The only code that queries `price_seeds`: which catalogue models were seeded once already. */
export class PriceSeedRepository {
  constructor(private readonly db: Db) {}

  async findAll(q: Knex = this.db): Promise<PriceSeedRecord[]> {
    const rows = await q('price_seeds').select('*').orderBy('model');
    return rows.map((r: Record<string, unknown>) => ({
      model: String(r.model),
      catalogueVersion: num(r.catalogue_version),
      outcome: r.outcome as SeedOutcome,
      seededAt: num(r.seeded_at),
    }));
  }

  async has(model: string, q: Knex = this.db): Promise<boolean> {
    return (await q('price_seeds').where({ model }).first()) !== undefined;
  }

  /** Records `model` as seeded; a model recorded already is left as it is. */
  async record(q: Knex | Trx, model: string, catalogueVersion: number, outcome: SeedOutcome): Promise<void> {
    await q('price_seeds')
      .insert({ model, catalogue_version: catalogueVersion, outcome, seeded_at: Date.now() })
      .onConflict('model')
      .ignore();
  }
}
