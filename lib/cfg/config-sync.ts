import type { Logger } from 'pino';
import { PriceBook } from '../billing/price-book.js';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import type { GroupRecord } from '../db/repositories/group.repository.js';
import type { PriceRecord } from '../db/repositories/price.repository.js';
import type { ConfigChange, ConfigState } from '../db/repositories/config-state.repository.js';
import type { Metrics } from '../obs/metrics.js';
import type { IdentityCache } from './identity-cache.js';
import type { ApplyLog, ApplyRecord } from './apply-log.js';
import { RoutingIndex } from './routing-index.js';

/** Where the sync loop reads config from: the database; in a cluster, L2 first for single entities. */
export interface ConfigSource {
  /** The changes after `version`, oldest first. */
  changesAfter(version: number, limit: number): Promise<ConfigChange[]>;
  /** State and every channel, price and group from one consistent read. */
  snapshot(): Promise<{
    state: ConfigState;
    channels: ChannelRecord[];
    prices: PriceRecord[];
    groups: GroupRecord[];
  }>;
  /** One channel at `minVersion` or newer; undefined when it does not exist (any more). */
  channel(id: number, minVersion: number): Promise<ChannelRecord | undefined>;
  price(model: string): Promise<PriceRecord | undefined>;
  group(name: string): Promise<GroupRecord | undefined>;
}

/**
 * Tells the newest config version that exists: the database on a single node; Redis's
 * `cfg:version` in a cluster (the database while Redis is down). `undefined` means the probe
 * has no version at all (Redis was flushed), which calls for a full resync.
 */
export interface VersionProbe {
  read(): Promise<ConfigState | undefined>;
}

/** A change as a node learns of it: from its own writer, from pub/sub, or from the log. */
export type ChangeNotice = ConfigChange & { epoch: string };

export type SyncState = 'STARTING' | 'SYNCING' | 'LIVE' | 'DEGRADED';

/** How many versions `applied` is behind `reference`; null when unknown or in another epoch. */
export function lagBehind(reference: ConfigState | undefined, epoch: string, applied: number): number | null {
  return reference && reference.epoch === epoch ? Math.max(0, reference.version - applied) : null;
}

const CATCH_UP_BATCH = 1000;

/** What the sync asks of the rest of the node. */
export interface SyncHooks {
  /** A resync found the probe without a version: put one back (the database's). */
  versionMissing?: (state: ConfigState) => Promise<void>;
  /** Keeps when each version was applied (CONFIG_APPLY_LOG; none by default). */
  applyLog?: ApplyLog;
}

/**
 * A node's view of config: the routing index (L1 for channels), the identity cache (L1 for
 * tokens and users), and the version and epoch they reflect. Applies changes strictly in version
 * order; a gap is filled from `config_changes`; an unknown epoch, a missing version in Redis, a
 * resubscription, or a log that no longer reaches back far enough triggers a full resync from a
 * consistent snapshot that is swapped in whole. All work is serialised, so `appliedVersion` only
 * moves forward within an epoch.
 */
export class ConfigSync {
  private index = new RoutingIndex();
  private book = new PriceBook();
  private applied = 0;
  private epoch = '';
  private syncState: SyncState = 'STARTING';
  private degraded = false;
  private lastSyncAt: number | null = null;
  private queue: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly source: ConfigSource,
    private probe: VersionProbe,
    private readonly identities: IdentityCache,
    private readonly decrypt: (keyEnc: string) => string,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly hooks: SyncHooks = {},
  ) {}

  get routing(): RoutingIndex {
    return this.index;
  }

  /** Prices and groups (L1). */
  get prices(): PriceBook {
    return this.book;
  }

  status(): { state: SyncState; epoch: string; appliedVersion: number; lastSyncAt: number | null } {
    const state = this.syncState === 'LIVE' && this.degraded ? 'DEGRADED' : this.syncState;
    return { state, epoch: this.epoch, appliedVersion: this.applied, lastSyncAt: this.lastSyncAt };
  }

  /** Applies kept since `version` (empty unless CONFIG_APPLY_LOG is set). */
  appliesAfter(version: number): ApplyRecord[] {
    return this.hooks.applyLog?.after(version) ?? [];
  }

  /** The first full sync; the node is not ready before it ends. */
  async start(): Promise<void> {
    this.syncState = 'SYNCING';
    await this.serial(() => this.fullResync('start'));
    this.syncState = 'LIVE';
  }

  /** Redis went away (true) or came back (false); while degraded the node polls `fallback`. */
  setDegraded(degraded: boolean): void {
    this.degraded = degraded;
  }

  /** Handles one change notice (own write or pub/sub message). */
  notify(notice: ChangeNotice): Promise<void> {
    return this.serial(() => this.handle(notice));
  }

  /** A beacon or a probe result: the newest version that exists. Catches up if behind. */
  nudge(state: ConfigState | undefined, reason: 'beacon' | 'poll'): Promise<void> {
    return this.serial(async () => {
      if (this.syncState === 'STARTING') return;
      if (!state) {
        this.metrics.cfgGaps.inc({ reason: 'missing_version' });
        return this.fullResync('missing_version');
      }
      if (state.epoch !== this.epoch) {
        this.metrics.cfgGaps.inc({ reason: 'epoch' });
        return this.fullResync('epoch');
      }
      this.metrics.cfgLag.set(Math.max(0, state.version - this.applied));
      if (state.version > this.applied) {
        this.metrics.cfgGaps.inc({ reason });
        await this.catchUp(reason);
      }
    });
  }

  /** Rebuilds everything from a snapshot (subscriber reconnect, Redis back, operator request). */
  resync(trigger: string): Promise<void> {
    return this.serial(async () => {
      if (this.syncState === 'STARTING') return;
      this.metrics.cfgGaps.inc({ reason: trigger });
      await this.fullResync(trigger);
    });
  }

  /** Reads the probe once and catches up if behind: the fallback for lost notices. */
  async poll(probe: VersionProbe = this.probe): Promise<void> {
    await this.nudge(await probe.read(), 'poll');
  }

  /** Polls every `everyMs` (±20% jitter so nodes do not poll in step); `probe()` picks the probe each time. */
  startPolling(everyMs: number, probe: () => VersionProbe = () => this.probe): void {
    this.polling = true;
    const schedule = () => {
      const delay = everyMs * (0.8 + Math.random() * 0.4);
      this.pollTimer = setTimeout(() => {
        this.poll(probe())
          .catch((err: unknown) =>
            this.logger.warn({ err: { message: (err as Error).message } }, 'config poll failed'),
          )
          .finally(() => {
            if (this.polling) schedule();
          });
      }, delay);
      this.pollTimer.unref();
    };
    schedule();
  }

  stop(): void {
    this.polling = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private serial(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => {});
    return run;
  }

  private async handle(notice: ChangeNotice): Promise<void> {
    // Before the first sync there is nothing to patch: that sync will read the change anyway.
    if (this.syncState === 'STARTING') return;
    if (notice.epoch !== this.epoch) {
      this.metrics.cfgGaps.inc({ reason: 'epoch' });
      return this.fullResync('epoch');
    }
    if (notice.version <= this.applied) {
      this.metrics.cfgInvalidations.inc({ result: 'duplicate' });
      return;
    }
    if (notice.version === this.applied + 1) {
      await this.applyOne(notice);
      this.metrics.cfgInvalidations.inc({ result: 'applied' });
      return;
    }
    this.metrics.cfgInvalidations.inc({ result: 'gap' });
    this.metrics.cfgGaps.inc({ reason: 'sequence' });
    await this.catchUp('sequence');
  }

  private async catchUp(reason: string): Promise<void> {
    for (;;) {
      const changes = await this.source.changesAfter(this.applied, CATCH_UP_BATCH);
      if (changes.length === 0) return;
      if (changes[0]!.version !== this.applied + 1) {
        // The log was trimmed past what we applied: only a snapshot can bring us level.
        return this.fullResync('log_trimmed');
      }
      for (const change of changes) {
        if (change.version !== this.applied + 1) return this.fullResync('log_hole');
        await this.applyOne(change);
      }
      this.logger.debug({ reason, appliedVersion: this.applied }, 'caught up from the change log');
      if (changes.length < CATCH_UP_BATCH) return;
    }
  }

  private async applyOne(change: ConfigChange): Promise<void> {
    const id = Number(change.entityId);
    switch (change.kind) {
      case 'channel': {
        const row = change.op === 'delete' ? undefined : await this.source.channel(id, change.version);
        if (row) this.index.upsert(row, this.decrypt);
        else this.index.remove(id);
        break;
      }
      case 'token':
        this.identities.invalidateToken(id, change.version);
        break;
      case 'user':
        this.identities.invalidateUser(id, change.version);
        break;
      case 'price':
        this.book.setPrice(
          change.entityId,
          change.op === 'delete' ? undefined : await this.source.price(change.entityId),
        );
        break;
      case 'group':
        this.book.setGroup(
          change.entityId,
          change.op === 'delete' ? undefined : await this.source.group(change.entityId),
        );
        break;
    }
    this.setApplied(change.version, change.at);
  }

  private async fullResync(trigger: string): Promise<void> {
    const started = process.hrtime.bigint();
    const { state, channels, prices, groups } = await this.source.snapshot();
    const next = RoutingIndex.build(channels, this.decrypt);
    if (state.epoch === this.epoch && state.version < this.applied) {
      // Cannot happen with one database; if it does, keep the newer view and say so.
      this.logger.error(
        { snapshot: state.version, applied: this.applied },
        'snapshot older than applied version; kept',
      );
      return;
    }
    // The swap: from here on every request sees the new index whole.
    this.index = next;
    this.book = PriceBook.build(prices, groups);
    this.identities.clear();
    this.epoch = state.epoch;
    this.applied = state.version;
    this.metrics.cfgVersionApplied.set(state.version);
    this.metrics.cfgLag.set(0);
    this.lastSyncAt = Date.now();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.cfgResyncs.inc({ trigger });
    this.metrics.cfgResyncDuration.observe(seconds);
    this.logger.info(
      { trigger, version: state.version, channels: channels.length, seconds },
      'full config resync',
    );
    if (trigger === 'missing_version') await this.hooks.versionMissing?.(state);
  }

  private setApplied(version: number, at: number): void {
    const now = Date.now();
    this.applied = version;
    this.lastSyncAt = now;
    this.metrics.cfgVersionApplied.set(version);
    if (at > 0) this.metrics.cfgPropagation.observe(Math.max(0, now - at) / 1000);
    this.hooks.applyLog?.record({ version, at, appliedAt: now });
  }
}
