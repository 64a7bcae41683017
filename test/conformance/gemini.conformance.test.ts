import { GEMINI_KEY, GEMINI_USAGE, startFakeGemini } from '../helpers/fake-gemini.js';
import { describeAdapterConformance } from './adapter-conformance.js';

describeAdapterConformance({
  type: 'gemini',
  async start() {
    const fake = await startFakeGemini();
    return {
      channel: (label, mode) => ({ base_url: fake.baseUrl(label, mode), key: GEMINI_KEY }),
      // The fake echoes the last user text; the suite always says "Say hello" when it reads the answer.
      text: () => 'Hello from Gemini: Say hello',
      usage: {
        prompt: GEMINI_USAGE.prompt,
        completion: GEMINI_USAGE.candidates,
        cached: GEMINI_USAGE.cached,
        cacheWrite: 0,
      },
      requests: (label) => fake.calls.filter((c) => c.label === label).length,
      close: () => fake.close(),
    };
  },
});
