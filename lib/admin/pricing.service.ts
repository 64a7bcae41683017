import { EntityWrites } from '../cfg/entity-writes.js';
import type { VersionedWriter } from '../cfg/versioned-writer.js';
import type { GroupRecord, GroupRepository } from '../db/repositories/group.repository.js';
import type { PriceRecord, PriceRepository } from '../db/repositories/price.repository.js';
import { NotFoundError } from '../errors/not-found.error.js';
import { QUOTA_PER_USD } from '../billing/price-book.js';
import { requireRole, type Actor } from './actor.js';
import type { GroupInput, PriceInput } from './billing.schemas.js';
import { iso } from './validation.js';

export function priceView(p: PriceRecord) {
  return {
    model: p.model,
    input: p.input,
    output: p.output,
    cached_input: p.cachedInput,
    // An entry from an older L2 copy may lack it.
    cache_write_input: p.cacheWriteInput ?? null,
    /** What 1M tokens cost in quota units, for the operator's convenience. */
    quota_per_million: {
      input: Math.round(p.input * QUOTA_PER_USD),
      output: Math.round(p.output * QUOTA_PER_USD),
    },
    version: p.version,
    created_at: iso(p.createdAt),
    updated_at: iso(p.updatedAt),
  };
}

export function groupView(g: GroupRecord) {
  return {
    name: g.name,
    ratio: g.ratio,
    rpm_limit: g.rpmLimit,
    tpm_limit: g.tpmLimit,
    version: g.version,
    created_at: iso(g.createdAt),
    updated_at: iso(g.updatedAt),
  };
}

/**
 * Prices per model and groups (multiplier, rate limits): config, written through the versioned
 * path so every node's L1 copy follows. Everyone signed in may read them; admins change them.
 */
export class PricingService {
  constructor(
    private readonly prices: PriceRepository,
    private readonly groups: GroupRepository,
    writer: VersionedWriter,
  ) {
    // Prices and groups are not cached in L2: their writes hand the listeners no record.
    this.priceWrites = new EntityWrites(
      writer,
      'price',
      (model, trx) => prices.find(String(model), trx),
      priceView,
      (model) => new NotFoundError(`No price for model ${model}`, { param: 'model' }),
      false,
    );
    this.groupWrites = new EntityWrites(
      writer,
      'group',
      (name, trx) => groups.find(String(name), trx),
      groupView,
      (name) => new NotFoundError(`No group named ${name}`, { param: 'name' }),
      false,
    );
  }

  private readonly priceWrites: EntityWrites<PriceRecord, ReturnType<typeof priceView>>;
  private readonly groupWrites: EntityWrites<GroupRecord, ReturnType<typeof groupView>>;

  async listPrices() {
    return { data: (await this.prices.findAll()).map(priceView) };
  }

  async putPrice(actor: Actor, model: string, input: PriceInput) {
    requireRole(actor, 'admin');
    return this.priceWrites.create(async (trx, version) => {
      await this.prices.upsert(trx, model, input, version);
      return model;
    });
  }

  async deletePrice(actor: Actor, model: string): Promise<void> {
    requireRole(actor, 'admin');
    await this.priceWrites.delete(model, (trx) => this.prices.delete(trx, model));
  }

  async listGroups() {
    return { data: (await this.groups.findAll()).map(groupView) };
  }

  async putGroup(actor: Actor, name: string, input: GroupInput) {
    requireRole(actor, 'admin');
    return this.groupWrites.create(async (trx, version) => {
      await this.groups.upsert(trx, name, input, version);
      return name;
    });
  }

  async deleteGroup(actor: Actor, name: string): Promise<void> {
    requireRole(actor, 'admin');
    await this.groupWrites.delete(name, (trx) => this.groups.delete(trx, name));
  }
}
