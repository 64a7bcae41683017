import { EntityWrites } from '../cfg/entity-writes.js';
import type { VersionedWriter } from '../cfg/versioned-writer.js';
import type {
  ChannelRecord,
  ChannelRepository,
  ChannelStatus,
  ChannelValues,
} from '../db/repositories/channel.repository.js';
import { ConflictError } from '../errors/conflict.error.js';
import { NotFoundError } from '../errors/not-found.error.js';
import { maskSecret } from '../security/keys.js';
import type { SecretBox } from '../security/secret-box.js';
import { AppError } from '../errors/app.error.js';
import type {
  BulkChannelsInput,
  CreateChannelInput,
  ListChannelsInput,
  UpdateChannelInput,
} from './channel.schemas.js';
import { iso } from './validation.js';

/** A channel as the admin API shows it: never the key, only `key_masked`. */
export function channelView(ch: ChannelRecord) {
  return {
    id: ch.id,
    name: ch.name,
    type: ch.type,
    base_url: ch.baseUrl,
    key_masked: ch.keyMasked,
    models: ch.models,
    groups: ch.groups,
    model_mapping: ch.modelMapping,
    priority: ch.priority,
    weight: ch.weight,
    status: ch.status,
    status_reason: ch.statusReason,
    status_changed_at: iso(ch.statusChangedAt),
    connect_timeout_ms: ch.connectTimeoutMs,
    first_byte_timeout_ms: ch.firstByteTimeoutMs,
    idle_timeout_ms: ch.idleTimeoutMs,
    test_model: ch.testModel,
    settings: ch.settings,
    version: ch.version,
    created_at: iso(ch.createdAt),
    updated_at: iso(ch.updatedAt),
  };
}

/** Rolls back an automatic status change that another node or an operator got to first. */
class AlreadyHandled extends ConflictError {
  constructor() {
    super('The channel status changed meanwhile');
  }
}

const notFound = (id: number) => new NotFoundError(`No channel with id ${id}`, { param: 'id' });

/** Channel health as the channel service needs it. */
export interface ChannelHealthHooks {
  /** The `health` field of each channel in `ids` (its last test, stats, breakers). */
  views(ids: number[]): Promise<Map<number, unknown>>;
  /** The channel is being (re-)enabled: forget its cooldowns and breakers on every node. */
  reset(id: number): Promise<void>;
}

/** The channel types the relay serves, and their settings. */
export interface ChannelTypes {
  /** The settings as the adapter of `type` reads them (defaults filled in); a `BadRequestError` for an unknown type or bad settings. */
  validate(type: string, settings: Record<string, unknown>): Record<string, unknown>;
  /** Every type with its settings as a JSON Schema. */
  describe(): { type: string; settingsSchema: unknown }[];
}

const noHealth: ChannelHealthHooks = { views: async () => new Map(), reset: async () => {} };

/** Channel administration: every write is a versioned config write. */
export class ChannelService {
  constructor(
    private readonly channels: ChannelRepository,
    private readonly writer: VersionedWriter,
    private readonly secrets: SecretBox,
    private readonly types: ChannelTypes,
    private health: ChannelHealthHooks = noHealth,
  ) {
    this.writes = new EntityWrites(
      writer,
      'channel',
      (id, trx) => channels.findById(Number(id), trx),
      channelView,
      (id) => notFound(Number(id)),
    );
  }

  /** The versioned-write steps for a channel: re-read in the transaction, its view for the caller. */
  private readonly writes: EntityWrites<ChannelRecord, ReturnType<typeof channelView>>;

  /** Channel health is built on this service (it re-enables channels): it is attached once both exist. */
  attachHealth(health: ChannelHealthHooks): void {
    this.health = health;
  }

  /** The channel types this gateway serves, each with the JSON Schema of its `settings`. */
  channelTypes() {
    return this.types.describe().map((t) => ({ type: t.type, settings_schema: t.settingsSchema }));
  }

  async list(f: ListChannelsInput) {
    const { rows, total } = await this.channels.list({ ...f, perPage: f.per_page });
    const health = await this.health.views(rows.map((r) => r.id));
    return { data: rows.map((r) => ({ ...channelView(r), health: health.get(r.id) ?? null })), total };
  }

  async get(id: number) {
    const ch = await this.channels.findById(id);
    if (!ch) throw notFound(id);
    const health = await this.health.views([id]);
    return { ...channelView(ch), health: health.get(id) ?? null };
  }

  /** The stored channel (with its encrypted key), for channel tests. */
  async record(id: number): Promise<ChannelRecord> {
    const ch = await this.channels.findById(id);
    if (!ch) throw notFound(id);
    return ch;
  }

  /** Every channel a scheduled test looks at: enabled and auto-disabled (never the manually disabled). */
  async testable(): Promise<ChannelRecord[]> {
    return (await this.channels.findAll()).filter((c) => c.status !== 'disabled');
  }

  async create(input: CreateChannelInput) {
    const { key, ...fields } = input;
    const values: ChannelValues = {
      ...fields,
      keyEnc: this.secrets.encrypt(key),
      keyMasked: maskSecret(key),
      statusReason: null,
      statusChangedAt: null,
      settings: this.types.validate(input.type, input.settings),
    };
    return this.writes.create((trx, version) => this.channels.insert(trx, values, version));
  }

  async update(id: number, input: UpdateChannelInput) {
    const { key, status, settings, ...fields } = input;
    const values: Partial<ChannelValues> = fields;
    if (key !== undefined) {
      values.keyEnc = this.secrets.encrypt(key);
      values.keyMasked = maskSecret(key);
    }
    // Enabled by hand: a clean slate on every node, shared before the channel is routable again.
    if (status === 'enabled') await this.health.reset(id);
    return this.writes.update(id, async (trx, version, current) => {
      if (input.type !== undefined || settings !== undefined) {
        // A new type re-reads the stored settings; new settings are read by the (new) type.
        values.settings = this.types.validate(input.type ?? current.type, settings ?? current.settings);
      }
      if (status !== undefined && status !== current.status) {
        values.status = status;
        values.statusReason = null;
        values.statusChangedAt = Date.now();
      }
      await this.channels.update(trx, id, values, version);
    });
  }

  /**
   * Marks an enabled channel `auto_disabled` with the reason and time, as a versioned write
   * (so every node stops routing to it). A channel that is already disabled, by hand or
   * automatically, or gone, is left alone: a manual disable is never overridden.
   */
  async autoDisable(id: number, reason: string): Promise<boolean> {
    return this.autoStatus(id, 'enabled', 'auto_disabled', reason);
  }

  /**
   * Re-enables an `auto_disabled` channel (its test passed), as a versioned write. Any other
   * status is left alone: a channel disabled by hand stays disabled.
   */
  async autoEnable(id: number, reason: string): Promise<boolean> {
    // A clean slate on every node, shared before the channel is routable again.
    return this.autoStatus(id, 'auto_disabled', 'enabled', reason, () => this.health.reset(id));
  }

  /** Moves the channel from `from` to `to`; `beforeWrite` runs once it is known to be in `from`. */
  private async autoStatus(
    id: number,
    from: ChannelStatus,
    to: ChannelStatus,
    reason: string,
    beforeWrite?: () => Promise<void>,
  ): Promise<boolean> {
    const current = await this.channels.findById(id);
    if (!current || current.status !== from) return false;
    await beforeWrite?.();
    try {
      await this.writer.write('channel', async (trx, version) => {
        const row = await this.channels.findById(id, trx);
        if (!row || row.status !== from) throw new AlreadyHandled();
        const now = Date.now();
        const statusReason = `${reason} (${new Date(now).toISOString()})`.slice(0, 500);
        await this.channels.update(trx, id, { status: to, statusReason, statusChangedAt: now }, version);
        const updated = (await this.channels.findById(id, trx))!;
        return { entityId: id, op: 'upsert', result: undefined, record: updated };
      });
      return true;
    } catch (err) {
      if (err instanceof AlreadyHandled) return false; // rolled back: no version used
      throw err;
    }
  }

  /**
   * Enables, disables or deletes many channels: one versioned write per channel (so each node
   * applies them as usual), in id order. A channel that fails (gone meanwhile) does not stop the
   * others; the answer lists what was done and what failed, with why.
   */
  async bulk(input: BulkChannelsInput) {
    const done: number[] = [];
    const failed: { id: number; code: string | null; message: string }[] = [];
    for (const id of [...new Set(input.ids)].sort((a, b) => a - b)) {
      try {
        if (input.action === 'delete') await this.delete(id);
        else {
          const status = input.action === 'enable' ? 'enabled' : 'disabled';
          const current = await this.channels.findById(id);
          if (!current) throw notFound(id);
          // Already there: no write, no version.
          if (current.status !== status) await this.update(id, { status });
        }
        done.push(id);
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        failed.push({ id, code: err.code, message: err.message });
      }
    }
    return { action: input.action, done, failed };
  }

  async delete(id: number): Promise<void> {
    await this.writes.delete(id, (trx) => this.channels.delete(trx, id));
  }
}
