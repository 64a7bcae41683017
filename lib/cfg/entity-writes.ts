import type { ConfigKind } from '../db/repositories/config-state.repository.js';
import type { Trx } from '../db/knex.js';
import type { ConfigRecord, VersionedWriter } from './versioned-writer.js';

type Id = number | string;

/**
 * The versioned-write steps every config entity repeats, in one place: write inside the
 * versioned transaction, re-read the entity there (so the listeners get it as stored and the
 * caller its view), or delete it and hand the listeners what it was. A missing entity is
 * `notFound(id)` and rolls the transaction back (no version is used).
 */
export class EntityWrites<R extends object, V> {
  constructor(
    private readonly writer: VersionedWriter,
    private readonly kind: ConfigKind,
    private readonly find: (id: Id, trx: Trx) => Promise<R | undefined>,
    private readonly view: (record: R) => V,
    private readonly notFound: (id: Id) => Error,
    /** Hand the listeners the record (for kinds cached in L2: channels, tokens, users); prices and groups are not. */
    private readonly withRecord = true,
  ) {}

  /** Creates (or, for an entity keyed by name, replaces) an entity: `insert` writes it with the new version and returns its id. */
  create(insert: (trx: Trx, version: number) => Promise<Id>): Promise<V> {
    return this.writer.write(this.kind, async (trx, version) => {
      const id = await insert(trx, version);
      return this.upserted(id, (await this.find(id, trx))!);
    });
  }

  /** Changes an existing entity: `change` gets it as it is now and writes the new version. */
  update(id: Id, change: (trx: Trx, version: number, current: R) => Promise<void>): Promise<V> {
    return this.writer.write(this.kind, async (trx, version) => {
      const current = await this.find(id, trx);
      if (!current) throw this.notFound(id);
      await change(trx, version, current);
      return this.upserted(id, (await this.find(id, trx))!);
    });
  }

  /** Deletes an entity; `remove` answers whether a row went. */
  delete(id: Id, remove: (trx: Trx) => Promise<boolean>): Promise<void> {
    return this.writer.write(this.kind, async (trx) => {
      const row = await this.find(id, trx);
      if (!row || !(await remove(trx))) throw this.notFound(id);
      return { entityId: id, op: 'delete', result: undefined, record: this.recordOf(row) };
    });
  }

  private upserted(id: Id, row: R) {
    return { entityId: id, op: 'upsert' as const, result: this.view(row), record: this.recordOf(row) };
  }

  private recordOf(row: R): ConfigRecord | undefined {
    return this.withRecord ? (row as ConfigRecord) : undefined;
  }
}
