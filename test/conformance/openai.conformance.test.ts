import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { describeAdapterConformance, type ConformanceMode } from './adapter-conformance.js';

const MODES: Record<ConformanceMode, string> = {
  ok: 'cached',
  '401': '401',
  '403': '403',
  '429': '429',
  '500': '500',
  cut: 'reset',
  stall: 'stall',
};

describeAdapterConformance({
  type: 'openai',
  async start() {
    const fake = await startFakeUpstream();
    return {
      channel: (label, mode) => ({ base_url: fake.baseUrl(label, MODES[mode]) }),
      text: (label, model) => `Hello from ${label} as ${model}`,
      usage: { prompt: 10, completion: 5, cached: 4, cacheWrite: 0 },
      requests: (label) => fake.requests.filter((r) => r.label === label).length,
      close: () => fake.close(),
    };
  },
});
