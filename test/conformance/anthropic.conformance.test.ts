import { FAKE_CACHE_USAGE, FAKE_USAGE, startFakeAnthropic } from '../helpers/fake-anthropic.js';
import { describeAdapterConformance } from './adapter-conformance.js';

/** Claude channels against the strict fake Anthropic API (itself checked with @anthropic-ai/sdk). */
describeAdapterConformance({
  type: 'anthropic',
  async start() {
    const fake = await startFakeAnthropic();
    // The fake's `cache` mode reports cache reads and writes.
    const modes: Record<string, string> = { ok: 'cache' };
    return {
      channel: (label, mode) => ({
        base_url: fake.baseUrl(label, modes[mode] ?? mode),
        key: 'sk-ant-conformance',
      }),
      text: (label, model) => `Hello from ${label} as ${model}`,
      usage: {
        prompt:
          FAKE_USAGE.input_tokens +
          FAKE_CACHE_USAGE.cache_creation_input_tokens +
          FAKE_CACHE_USAGE.cache_read_input_tokens,
        completion: FAKE_USAGE.output_tokens,
        cached: FAKE_CACHE_USAGE.cache_read_input_tokens,
        cacheWrite: FAKE_CACHE_USAGE.cache_creation_input_tokens,
      },
      requests: (label) => fake.requests.filter((r) => r.label === label).length,
      close: () => fake.close(),
    };
  },
});
