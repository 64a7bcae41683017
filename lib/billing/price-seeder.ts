import type { Logger } from 'pino';
import type { VersionedWriter } from '../cfg/versioned-writer.js';
import type { Db } from '../db/knex.js';
import type { PriceRepository } from '../db/repositories/price.repository.js';
import type { PriceSeedRepository } from '../db/repositories/price-seed.repository.js';
import type { PriceCatalogue } from './price-catalogue.js';

/** Rolls a seed write back: the model was seeded meanwhile, or already has a price. */
class NotSeeded extends Error {
  constructor(readonly reason: 'known' | 'priced') {
    super(reason);
  }
}

export interface SeedReport {
  /** Models whose catalogue price was written now. */
  seeded: string[];
  /** Models that already had a price (set by an admin): recorded, left as they were. */
  kept: string[];
}

/**
 * Writes the default price catalogue as ordinary prices, each through the versioned write path
 * (so every node applies it like an admin's change, and admins edit or delete it like any
 * price). A model is seeded at most once, ever: `price_seeds` remembers it, so a price an
 * admin changed or deleted is never written again by a later start or a later release; a
 * release that adds models to the catalogue seeds just those. Run by the single node or the
 * master, never by a replica.
 */
export class PriceSeeder {
  constructor(
    private readonly db: Db,
    private readonly prices: PriceRepository,
    private readonly seeds: PriceSeedRepository,
    private readonly writer: VersionedWriter,
    private readonly logger: Logger,
  ) {}

  async seed(catalogue: PriceCatalogue): Promise<SeedReport> {
    const known = new Set((await this.seeds.findAll()).map((s) => s.model));
    const report: SeedReport = { seeded: [], kept: [] };
    for (const entry of catalogue.models) {
      if (known.has(entry.model)) continue;
      try {
        await this.writer.write('price', async (trx, version) => {
          // Checked again under the config lock, which every price write takes: an admin's
          // price written a moment ago is seen here and kept.
          if (await this.seeds.has(entry.model, trx)) throw new NotSeeded('known');
          if (await this.prices.find(entry.model, trx)) throw new NotSeeded('priced');
          await this.prices.upsert(
            trx,
            entry.model,
            {
              input: entry.input,
              output: entry.output,
              cachedInput: entry.cached_input ?? null,
              cacheWriteInput: entry.cache_write_input ?? null,
            },
            version,
          );
          await this.seeds.record(trx, entry.model, catalogue.catalogue_version, 'seeded');
          return { entityId: entry.model, op: 'upsert', result: undefined };
        });
        report.seeded.push(entry.model);
      } catch (err) {
        if (!(err instanceof NotSeeded)) throw err;
        // Rolled back, no version used. A model an admin priced first is remembered as kept.
        if (err.reason === 'priced') {
          await this.seeds.record(this.db, entry.model, catalogue.catalogue_version, 'kept');
          report.kept.push(entry.model);
        }
      }
    }
    if (report.seeded.length > 0 || report.kept.length > 0) {
      this.logger.info(
        {
          catalogueVersion: catalogue.catalogue_version,
          seeded: report.seeded.length,
          kept: report.kept.length,
          figuresAsOf: catalogue.figures_as_of,
        },
        'seeded the default price catalogue (SEED_PRICES=false turns this off)',
      );
    }
    return report;
  }
}
