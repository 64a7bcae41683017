import { BEDROCK_CREDENTIALS, BEDROCK_USAGE, startFakeBedrock } from '../helpers/fake-bedrock.js';
import { describeAdapterConformance } from './adapter-conformance.js';

describeAdapterConformance({
  type: 'bedrock',
  async start() {
    const fake = await startFakeBedrock();
    return {
      channel: (label, mode) => ({
        base_url: fake.baseUrl(label, mode),
        key: `${BEDROCK_CREDENTIALS.accessKeyId}:${BEDROCK_CREDENTIALS.secretAccessKey}`,
        settings: { region: 'us-east-1' },
      }),
      // The fake echoes the last user text; the suite always says "Say hello" when it reads the answer.
      text: () => 'Hello from Bedrock: Say hello',
      usage: {
        prompt: BEDROCK_USAGE.input + BEDROCK_USAGE.cacheRead + BEDROCK_USAGE.cacheWrite,
        completion: BEDROCK_USAGE.output,
        cached: BEDROCK_USAGE.cacheRead,
        cacheWrite: BEDROCK_USAGE.cacheWrite,
      },
      requests: (label) => fake.calls.filter((c) => c.label === label).length,
      close: () => fake.close(),
    };
  },
});
