import type { Logger } from 'pino';
import type { ConfigChange, ConfigState } from '../db/repositories/config-state.repository.js';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';
import type { Metrics } from '../obs/metrics.js';
import type { IdentityCache } from './identity-cache.js';
import { RoutingIndex } from './routing-index.js';

/** Where the sync loop reads config from (the database; in a cluster, L2 first for single entities). */
export interface ConfigSource {
  readState(): Promise<ConfigState>;
  /** The changes after `version`, oldest first. */
  changesAfter(version: number, limit: number): Promise<ConfigChange[]>;
  /** State and every channel from one consistent read. */
  snapshot(): Promise<{ state: ConfigState; channels: ChannelRecord[] }>;
  channel(id: number): Promise<ChannelRecord | undefined>;
}

/** A change as a node learns of it: from its own writer, from pub/sub, or from the log. */
export type ChangeNotice = ConfigChange & { epoch: string };

export type SyncState = 'STARTING' | 'SYNCING' | 'LIVE' | 'DEGRADED';

const CATCH_UP_BATCH = 1000;

/**
 * A node's view of config: the routing index (L1 for channels), the identity cache (L1 for
 * tokens and users), and the version and epoch they reflect. Applies changes strictly in version
 * order; a gap is filled from `config_changes`; an unknown epoch, or a log that no longer reaches
 * back far enough, triggers a full resync from a consistent snapshot that is swapped in whole.
 * All work is serialised, so `appliedVersion` only moves forward within an epoch.
 */
export class ConfigSync {
  private index = new RoutingIndex();
  private applied = 0;
  private epoch = '';
  private syncState: SyncState = 'STARTING';
  private lastSyncAt: number | null = null;
  private queue: Promise<void> = Promise.resolve();
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: ConfigSource,
    private readonly identities: IdentityCache,
    private readonly decrypt: (keyEnc: string) => string,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Told when a token's config changed (its id), or every token's (null, after a resync). */
    private readonly onTokenChange: (tokenId: number | null) => void = () => {},
  ) {}

  get routing(): RoutingIndex {
    return this.index;
  }

  status(): { state: SyncState; epoch: string; appliedVersion: number; lastSyncAt: number | null } {
    return {
      state: this.syncState,
      epoch: this.epoch,
      appliedVersion: this.applied,
      lastSyncAt: this.lastSyncAt,
    };
  }

  /** The first full sync; the node is not ready before it ends. */
  async start(): Promise<void> {
    this.syncState = 'SYNCING';
    await this.serial(() => this.fullResync('start'));
    this.syncState = 'LIVE';
  }

  /** Handles one change notice (own write, pub/sub message, or beacon-like nudge). */
  notify(notice: ChangeNotice): Promise<void> {
    return this.serial(() => this.handle(notice));
  }

  /** Compares with the source's version and catches up if behind: the fallback for lost notices. */
  poll(): Promise<void> {
    return this.serial(async () => {
      const state = await this.source.readState();
      if (state.epoch !== this.epoch) return this.fullResync('epoch');
      if (state.version > this.applied) {
        this.metrics.cfgInvalidations.inc({ result: 'gap' });
        await this.catchUp('poll');
      }
    });
  }

  /** Polls every `everyMs` (±20% jitter so nodes do not poll in step). */
  startPolling(everyMs: number): void {
    const schedule = () => {
      const delay = everyMs * (0.8 + Math.random() * 0.4);
      this.pollTimer = setTimeout(() => {
        this.poll()
          .catch((err: unknown) => this.logger.warn({ err }, 'config poll failed'))
          .finally(() => {
            if (this.pollTimer) schedule();
          });
      }, delay);
      this.pollTimer.unref();
    };
    schedule();
  }

  stop(): void {
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
    if (notice.epoch !== this.epoch) return this.fullResync('epoch');
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
    await this.catchUp('gap');
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
        const row = change.op === 'delete' ? undefined : await this.source.channel(id);
        if (row) this.index.upsert(row, this.decrypt);
        else this.index.remove(id);
        break;
      }
      case 'token':
        this.identities.invalidateToken(id);
        this.onTokenChange(id);
        break;
      case 'user':
        this.identities.invalidateUser(id);
        break;
    }
    this.setApplied(change.version);
  }

  private async fullResync(trigger: string): Promise<void> {
    const started = process.hrtime.bigint();
    const { state, channels } = await this.source.snapshot();
    const next = RoutingIndex.build(channels, this.decrypt);
    // The swap: from here on every request sees the new index whole.
    this.index = next;
    this.identities.clear();
    this.onTokenChange(null);
    this.epoch = state.epoch;
    this.applied = state.version;
    this.metrics.cfgVersionApplied.set(state.version);
    this.lastSyncAt = Date.now();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.metrics.cfgResyncs.inc({ trigger });
    this.metrics.cfgResyncDuration.observe(seconds);
    this.logger.info(
      { trigger, version: state.version, channels: channels.length, seconds },
      'full config resync',
    );
  }

  private setApplied(version: number): void {
    this.applied = version;
    this.lastSyncAt = Date.now();
    this.metrics.cfgVersionApplied.set(version);
  }
}
