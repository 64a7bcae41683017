import { createHash } from 'node:crypto';
import type { ChannelRecord } from '../db/repositories/channel.repository.js';

/** What the relay needs of a channel, with its upstream key already decrypted. */
export interface RoutedChannel {
  id: number;
  name: string;
  type: string;
  baseUrl: string;
  /** `base_url` split once for the HTTP client: `http(s)://host:port` and the path before `/v1`. */
  origin: string;
  basePath: string;
  apiKey: string;
  /** requested model → upstream model */
  modelMapping: Readonly<Record<string, string>>;
  priority: number;
  weight: number;
  version: number;
}

/** The channels of one priority within one (group, model), as a weighted list. */
export interface Tier {
  readonly priority: number;
  readonly channels: readonly RoutedChannel[];
}

interface Entry {
  channel: RoutedChannel;
  /** `group \u0000 model` keys this channel is listed under (empty when not enabled). */
  keys: string[];
}

const SEP = '\u0000';

/** SHA-1 of `id:version` lines sorted by id: how tests and operators compare an index with the database. */
export function routingDigest(versions: Iterable<[number, number]>): string {
  const lines = [...versions].sort((a, b) => a[0] - b[0]).map(([id, v]) => `${id}:${v}`);
  return createHash('sha1').update(lines.join('\n')).digest('hex');
}

/**
 * The models a channel answers to: its `models` plus the request-side names of its
 * `model_mapping` (a mapping `{"gpt-4o": "my-deployment"}` makes the channel serve `gpt-4o`).
 */
export function servedModels(ch: Pick<ChannelRecord, 'models' | 'modelMapping'>): string[] {
  return [...new Set([...ch.models, ...Object.keys(ch.modelMapping)])];
}

/**
 * L1 for channels: `group → model → priority tiers (highest first) → weighted channels`, so
 * choosing a channel is a few map look-ups with no I/O. Built whole from a snapshot and then
 * patched one channel at a time; each (group, model) list is replaced, never mutated, so a
 * request holding a tier array keeps a consistent view.
 */
export class RoutingIndex {
  private readonly entries = new Map<number, Entry>();
  private readonly members = new Map<string, Set<number>>();
  private readonly tiersByKey = new Map<string, readonly Tier[]>();
  private readonly modelsByGroup = new Map<string, Map<string, number>>();

  /** Builds an index from channel records; `decrypt` turns a stored key into the upstream key. */
  static build(channels: Iterable<ChannelRecord>, decrypt: (keyEnc: string) => string): RoutingIndex {
    const index = new RoutingIndex();
    const touched = new Set<string>();
    for (const ch of channels) index.place(ch, decrypt, touched);
    for (const key of touched) index.rebuildKey(key);
    return index;
  }

  /** Adds or replaces one channel. Ignored when the index already holds a newer version of it. */
  upsert(ch: ChannelRecord, decrypt: (keyEnc: string) => string): boolean {
    const current = this.entries.get(ch.id);
    if (current && current.channel.version > ch.version) return false;
    const touched = new Set<string>();
    this.unplace(ch.id, touched);
    this.place(ch, decrypt, touched);
    for (const key of touched) this.rebuildKey(key);
    return true;
  }

  /** Removes one channel (deleted, or no longer readable). */
  remove(id: number): boolean {
    if (!this.entries.has(id)) return false;
    const touched = new Set<string>();
    this.unplace(id, touched);
    for (const key of touched) this.rebuildKey(key);
    return true;
  }

  /** The tiers serving `model` in `group`, highest priority first; empty when none. */
  tiers(group: string, model: string): readonly Tier[] {
    return this.tiersByKey.get(group + SEP + model) ?? [];
  }

  /** The models some enabled channel serves in `group`, sorted. */
  models(group: string): string[] {
    return [...(this.modelsByGroup.get(group)?.keys() ?? [])].sort();
  }

  channel(id: number): RoutedChannel | undefined {
    return this.entries.get(id)?.channel;
  }

  /** Every channel id in the index (enabled or not) with its version: what tests compare with the database. */
  versions(): Map<number, number> {
    return new Map([...this.entries].map(([id, e]) => [id, e.channel.version]));
  }

  /** A digest of every channel's id and version: equal on two nodes that hold the same config. */
  digest(): string {
    return routingDigest(this.versions());
  }

  get size(): number {
    return this.entries.size;
  }

  private place(ch: ChannelRecord, decrypt: (keyEnc: string) => string, touched: Set<string>): void {
    const keys: string[] = [];
    // Disabled channels are kept (their version guards later fills) but are listed nowhere.
    if (ch.status === 'enabled') {
      for (const group of ch.groups) {
        for (const model of servedModels(ch)) {
          const key = group + SEP + model;
          keys.push(key);
          let set = this.members.get(key);
          if (!set) this.members.set(key, (set = new Set()));
          set.add(ch.id);
          touched.add(key);
          let models = this.modelsByGroup.get(group);
          if (!models) this.modelsByGroup.set(group, (models = new Map()));
          models.set(model, (models.get(model) ?? 0) + 1);
        }
      }
    }
    const url = new URL(ch.baseUrl);
    this.entries.set(ch.id, {
      keys,
      channel: {
        id: ch.id,
        name: ch.name,
        type: ch.type,
        baseUrl: ch.baseUrl,
        origin: url.origin,
        basePath: url.pathname.replace(/\/+$/, ''),
        apiKey: ch.status === 'enabled' ? decrypt(ch.keyEnc) : '',
        modelMapping: ch.modelMapping,
        priority: ch.priority,
        weight: ch.weight,
        version: ch.version,
      },
    });
  }

  private unplace(id: number, touched: Set<string>): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    for (const key of entry.keys) {
      this.members.get(key)?.delete(id);
      touched.add(key);
      const [group, model] = key.split(SEP) as [string, string];
      const models = this.modelsByGroup.get(group);
      const n = (models?.get(model) ?? 1) - 1;
      if (n <= 0) models?.delete(model);
      else models?.set(model, n);
      if (models?.size === 0) this.modelsByGroup.delete(group);
    }
    this.entries.delete(id);
  }

  private rebuildKey(key: string): void {
    const ids = this.members.get(key);
    if (!ids || ids.size === 0) {
      this.members.delete(key);
      this.tiersByKey.delete(key);
      return;
    }
    const byPriority = new Map<number, RoutedChannel[]>();
    for (const id of ids) {
      const ch = this.entries.get(id)!.channel;
      let list = byPriority.get(ch.priority);
      if (!list) byPriority.set(ch.priority, (list = []));
      list.push(ch);
    }
    const tiers = [...byPriority.entries()]
      .sort((a, b) => b[0] - a[0])
      .map(([priority, channels]) => ({ priority, channels: channels.sort((a, b) => a.id - b.id) }));
    this.tiersByKey.set(key, tiers);
  }
}
