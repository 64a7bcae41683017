import { AZURE_KEY, startFakeAzure } from '../helpers/fake-azure.js';
import { describeAdapterConformance } from './adapter-conformance.js';

describeAdapterConformance({
  type: 'azure',
  async start() {
    const fake = await startFakeAzure();
    return {
      channel: (label, mode) => ({
        base_url: fake.baseUrl(label, mode === 'ok' ? 'cached' : mode),
        key: AZURE_KEY,
        settings: { api_version: '2024-10-21' },
      }),
      text: (label) => `Hello from Azure ${label}`,
      usage: { prompt: 12, completion: 6, cached: 8, cacheWrite: 0 },
      requests: (label) => fake.requests.filter((r) => r.label === label).length,
      close: () => fake.close(),
    };
  },
});
