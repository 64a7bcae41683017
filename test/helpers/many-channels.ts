import type { TestGateway } from './gateway.js';

/**
 * Writes `count` channels straight into the table (10,000 versioned writes through the API would
 * take minutes), in a fixed mix: every 10th an Azure channel, upstreams on 7 hosts, every 3rd with
 * two GPT models (the others Claude), priorities 0..4, weights 0..10, every 4th disabled, names
 * `ch-` and the index padded to `nameDigits`, each updated a millisecond after the one before.
 */
export async function insertManyChannels(
  gw: TestGateway,
  count: number,
  opts: {
    nameDigits?: number;
    /** The domain of the upstream hosts `up0` to `up6`. */
    domain?: string;
    groups?: (i: number) => string[];
    now?: number;
  } = {},
): Promise<void> {
  const { nameDigits = 5, domain = 'example.com', now = Date.now() } = opts;
  const groups = opts.groups ?? ((i: number) => (i % 2 === 0 ? ['default'] : ['vip']));
  const rows = Array.from({ length: count }, (_, i) => ({
    name: `ch-${String(i).padStart(nameDigits, '0')}`,
    type: i % 10 === 0 ? 'azure' : 'openai',
    base_url: `https://up${i % 7}.${domain}`,
    key_enc: 'x',
    key_masked: 'sk-…xxxx',
    models: JSON.stringify(i % 3 === 0 ? ['gpt-4o', 'gpt-4o-mini'] : ['claude-3']),
    groups: JSON.stringify(groups(i)),
    model_mapping: '{}',
    priority: i % 5,
    weight: i % 11,
    status: i % 4 === 0 ? 'disabled' : 'enabled',
    version: 1,
    created_at: now,
    updated_at: now + i,
  }));
  await gw.gateway.db.batchInsert('channels', rows, 500);
}
