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
  /** The channel's own upstream timeouts (ms); absent ones are the global settings. */
  timeouts: { connectTimeoutMs?: number; firstByteTimeoutMs?: number; idleTimeoutMs?: number };
  /** The channel's provider settings as stored; its adapter parses them. */
  settings: Readonly<Record<string, unknown>>;
}

/** The channels of one priority within one (group, model), as a weighted list. */
export interface Tier {
  readonly priority: number;
  readonly channels: readonly RoutedChannel[];
}

interface Entry {
  channel: RoutedChannel;
  /** Where the channel is listed: its groups × served models (empty when not enabled). */
  groups: readonly string[];
  models: readonly string[];
}

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
  const mapped = Object.keys(ch.modelMapping);
  return mapped.length === 0 ? ch.models : [...new Set([...ch.models, ...mapped])];
}

function toRouted(ch: ChannelRecord, decrypt: (keyEnc: string) => string): RoutedChannel {
  return routedChannel(ch, (enc) => (ch.status === 'enabled' ? decrypt(enc) : ''));
}

/** A channel as the relay sends to it, its key decrypted whatever its status (channel tests use it). */
export function routedChannel(ch: ChannelRecord, decrypt: (keyEnc: string) => string): RoutedChannel {
  const url = new URL(ch.baseUrl);
  const timeouts: RoutedChannel['timeouts'] = {};
  // Records from an older L2 entry may lack the fields: undefined and null both mean "global".
  if (ch.connectTimeoutMs != null) timeouts.connectTimeoutMs = ch.connectTimeoutMs;
  if (ch.firstByteTimeoutMs != null) timeouts.firstByteTimeoutMs = ch.firstByteTimeoutMs;
  if (ch.idleTimeoutMs != null) timeouts.idleTimeoutMs = ch.idleTimeoutMs;
  return {
    id: ch.id,
    name: ch.name,
    type: ch.type,
    baseUrl: ch.baseUrl,
    origin: url.origin,
    basePath: url.pathname.replace(/\/+$/, ''),
    apiKey: decrypt(ch.keyEnc),
    modelMapping: ch.modelMapping,
    priority: ch.priority,
    weight: ch.weight,
    version: ch.version,
    timeouts,
    // Records from an older L2 entry may lack the field.
    settings: ch.settings ?? {},
  };
}

/** Splits an id-ordered channel list into priority tiers, highest first. */
function tiersOf(channels: RoutedChannel[]): Tier[] {
  let single = true;
  for (let i = 1; i < channels.length && single; i++)
    single = channels[i]!.priority === channels[0]!.priority;
  if (single) return channels.length === 0 ? [] : [{ priority: channels[0]!.priority, channels }];
  const byPriority = new Map<number, RoutedChannel[]>();
  for (const ch of channels) {
    const list = byPriority.get(ch.priority);
    if (list) list.push(ch);
    else byPriority.set(ch.priority, [ch]);
  }
  return [...byPriority.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([priority, list]) => ({ priority, channels: list }));
}

/**
 * L1 for channels: `group → model → priority tiers (highest first) → weighted channels`, so
 * choosing a channel is two map look-ups with no I/O. Built whole from a snapshot and then
 * patched one channel at a time; each (group, model) tier list is replaced, never mutated, so a
 * request holding one keeps a consistent view.
 */
export class RoutingIndex {
  private readonly entries = new Map<number, Entry>();
  private readonly table = new Map<string, Map<string, readonly Tier[]>>();

  /** Builds an index from channel records; `decrypt` turns a stored key into the upstream key. */
  static build(channels: Iterable<ChannelRecord>, decrypt: (keyEnc: string) => string): RoutingIndex {
    const index = new RoutingIndex();
    const lists = new Map<string, Map<string, RoutedChannel[]>>();
    const sorted = [...channels].sort((a, b) => a.id - b.id);
    for (const ch of sorted) {
      const routed = toRouted(ch, decrypt);
      const enabled = ch.status === 'enabled';
      const models = enabled ? servedModels(ch) : [];
      const groups = enabled ? ch.groups : [];
      index.entries.set(ch.id, { channel: routed, groups, models });
      for (const group of groups) {
        let byModel = lists.get(group);
        if (!byModel) lists.set(group, (byModel = new Map()));
        for (const model of models) {
          const list = byModel.get(model);
          if (list) list.push(routed);
          else byModel.set(model, [routed]);
        }
      }
    }
    for (const [group, byModel] of lists) {
      const out = new Map<string, readonly Tier[]>();
      for (const [model, list] of byModel) out.set(model, tiersOf(list));
      index.table.set(group, out);
    }
    return index;
  }

  /** Adds or replaces one channel. Ignored when the index already holds a newer version of it. */
  upsert(ch: ChannelRecord, decrypt: (keyEnc: string) => string): boolean {
    const current = this.entries.get(ch.id);
    if (current && current.channel.version > ch.version) return false;
    if (current) this.unplace(current);
    const enabled = ch.status === 'enabled';
    const entry: Entry = {
      channel: toRouted(ch, decrypt),
      groups: enabled ? ch.groups : [],
      models: enabled ? servedModels(ch) : [],
    };
    this.entries.set(ch.id, entry);
    for (const group of entry.groups) {
      for (const model of entry.models) this.replaceList(group, model, (list) => [...list, entry.channel]);
    }
    return true;
  }

  /** Removes one channel (deleted, or no longer readable). */
  remove(id: number): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.unplace(entry);
    this.entries.delete(id);
    return true;
  }

  /** The tiers serving `model` in `group`, highest priority first; empty when none. */
  tiers(group: string, model: string): readonly Tier[] {
    return this.table.get(group)?.get(model) ?? [];
  }

  /** The models some enabled channel serves in `group`, sorted. */
  models(group: string): string[] {
    return [...(this.table.get(group)?.keys() ?? [])].sort();
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

  private unplace(entry: Entry): void {
    const id = entry.channel.id;
    for (const group of entry.groups) {
      for (const model of entry.models)
        this.replaceList(group, model, (list) => list.filter((c) => c.id !== id));
    }
  }

  /** Recomputes the tiers of one (group, model) from a new channel list, kept in id order. */
  private replaceList(
    group: string,
    model: string,
    change: (list: RoutedChannel[]) => RoutedChannel[],
  ): void {
    let byModel = this.table.get(group);
    const current = byModel?.get(model) ?? [];
    const list = change(current.flatMap((t) => t.channels)).sort((a, b) => a.id - b.id);
    if (list.length === 0) {
      byModel?.delete(model);
      if (byModel?.size === 0) this.table.delete(group);
      return;
    }
    if (!byModel) this.table.set(group, (byModel = new Map()));
    byModel.set(model, tiersOf(list));
  }
}
