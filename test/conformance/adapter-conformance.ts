import { expect } from 'chai';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { waitFor } from '../helpers/wait.js';
import { countTextTokens } from '../../lib/billing/token-counter.js';

/** The behaviours every provider's fake must be able to play, each selected by a channel's `base_url`. */
export type ConformanceMode = 'ok' | '401' | '403' | '429' | '500' | 'cut' | 'stall';

/**
 * What one adapter brings to the conformance suite: a fake of its provider (strict about the
 * provider's wire format, and itself checked against the provider's official client), the
 * channel fields that point at it, and what its `ok` answer is.
 */
export interface ConformanceSpec {
  /** The channel `type`. */
  type: string;
  /** Starts the provider's fake. */
  start(): Promise<ConformanceFake>;
}

export interface ConformanceFake {
  /** Channel fields (base_url, key, settings…) for a channel whose upstream plays `mode`; `label` tells channels apart. */
  channel(label: string, mode: ConformanceMode): Record<string, unknown>;
  /** The text of an `ok` answer for a channel labelled `label` asked for `model` (the upstream's name). */
  text(label: string, model: string): string;
  /** The usage an `ok` answer reports, as the gateway must normalise it. */
  usage: { prompt: number; completion: number; cached: number; cacheWrite: number };
  /** How many requests reached channels labelled `label`. */
  requests(label: string): number;
  close(): Promise<void>;
}

/** USD per 1M tokens used for every model in the suite; the quota it must charge follows. */
const PRICE = { input: 2, output: 4, cached_input: 1 };
const QUOTA_PER_USD = 500_000;

/** The quota the gateway must charge for `u` at {@link PRICE} (cache writes are charged as input). */
function expectedQuota(u: ConformanceFake['usage']): number {
  const usd =
    ((u.prompt - u.cached) * PRICE.input + u.cached * PRICE.cached_input + u.completion * PRICE.output) / 1e6;
  return Math.ceil(usd * QUOTA_PER_USD - 1e-9);
}

/**
 * The adapter conformance suite: whole answer, stream, usage with cached tokens and its exact
 * charge, 401/403 (auto-disabled, served elsewhere), 429 with Retry-After (cooled), 5xx (retried
 * elsewhere), a stream cut after its first event (an error event, no hang), a stall (the
 * channel's first-byte timeout, served elsewhere). Every failure case has an OpenAI-compatible
 * fallback channel at a lower priority, so "served elsewhere" is visible to the client.
 */
export function describeAdapterConformance(spec: ConformanceSpec): void {
  describe(`adapter conformance: ${spec.type}`, function () {
    this.timeout(30_000);
    let gw: TestGateway;
    let fake: ConformanceFake;
    let fallback: FakeUpstream;
    let client: OpenAI;
    let n = 0;

    before(async () => {
      fake = await spec.start();
      fallback = await startFakeUpstream();
      gw = await startTestGateway({ env: { ALLOW_UNPRICED_MODELS: 'false', RETRY_TIMES: '2' } });
      expect((await gw.admin('PUT', '/api/prices/*', PRICE)).status).to.equal(200);
      const token = await gw.token({});
      client = new OpenAI({ apiKey: token.key, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: 10_000 });
    });
    after(async () => {
      await gw?.stop();
      await fallback?.close();
      await fake?.close();
    });

    /** A model of its own, served by the channel under test (priority 10) and, when asked, by a fallback (priority 0). */
    async function setUp(mode: ConformanceMode, withFallback = true, extra: Record<string, unknown> = {}) {
      const model = `conf-${spec.type}-${++n}`;
      const label = `c${n}`;
      const ch = await gw.channel({
        name: `${spec.type}-${label}`,
        type: spec.type,
        models: [model],
        priority: 10,
        ...fake.channel(label, mode),
        ...extra,
      });
      if (withFallback)
        await gw.channel({
          name: `fallback-${label}`,
          base_url: fallback.baseUrl(`fb${n}`),
          models: [model],
          priority: 0,
        });
      return { model, label, channelId: ch.id as number };
    }

    async function logRow(channelId: number, model: string) {
      let row: any;
      await waitFor(async () => {
        const r = await gw.admin('GET', `/api/logs?model=${encodeURIComponent(model)}`);
        row = r.body.data?.find((x: any) => x.channel_id === channelId && x.type === 'consume');
        return row !== undefined;
      }, 5_000);
      return row;
    }

    it('a whole answer: the text, the usage (cached tokens included) and the exact charge', async () => {
      const { model, label, channelId } = await setUp('ok', false);
      const r = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
      });
      expect(r.choices[0]?.message.content).to.equal(fake.text(label, model));
      expect(r.choices[0]?.finish_reason).to.equal('stop');
      expect(r.usage?.prompt_tokens).to.equal(fake.usage.prompt);
      expect(r.usage?.completion_tokens).to.equal(fake.usage.completion);
      expect(r.usage?.prompt_tokens_details?.cached_tokens ?? 0).to.equal(fake.usage.cached);
      const row = await logRow(channelId, model);
      expect(row).to.include({
        prompt_tokens: fake.usage.prompt,
        completion_tokens: fake.usage.completion,
        cached_tokens: fake.usage.cached,
        quota: expectedQuota(fake.usage),
      });
    });

    it('a stream: every delta, the finish reason, the usage chunk when asked, the exact charge', async () => {
      const { model, label, channelId } = await setUp('ok', false);
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Say hello' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let finish: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined | null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).to.equal(fake.text(label, model));
      expect(finish).to.equal('stop');
      expect(usage?.prompt_tokens).to.equal(fake.usage.prompt);
      expect(usage?.completion_tokens).to.equal(fake.usage.completion);
      const row = await logRow(channelId, model);
      expect(row).to.include({
        prompt_tokens: fake.usage.prompt,
        quota: expectedQuota(fake.usage),
        stream: true,
      });
    });

    for (const status of ['401', '403'] as const) {
      it(`${status}: the account is unusable: served by another channel, and the channel is auto-disabled`, async () => {
        const { model, channelId } = await setUp(status);
        const r = await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'hi' }],
        });
        expect(r.choices[0]?.message.content).to.contain('Hello from fb');
        await waitFor(
          async () =>
            (await gw.admin('GET', `/api/channels/${channelId}`)).body.data.status === 'auto_disabled',
          5_000,
        );
      });
    }

    it('429 with Retry-After: served by another channel, and the channel cools (not asked again at once)', async () => {
      const { model, label } = await setUp('429');
      for (let i = 0; i < 3; i++) {
        const r = await client.chat.completions.create({
          model,
          messages: [{ role: 'user', content: 'hi' }],
        });
        expect(r.choices[0]?.message.content).to.contain('Hello from fb');
      }
      expect(fake.requests(label)).to.equal(1);
    });

    it('5xx: retried on another channel', async () => {
      const { model, label } = await setUp('500');
      const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      expect(r.choices[0]?.message.content).to.contain('Hello from fb');
      expect(fake.requests(label)).to.be.greaterThan(0);
    });

    it('a stream cut after its first event ends with an error event: no hang, the delivered part kept and charged', async () => {
      const { model, channelId } = await setUp('cut', false);
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let text = '';
      let error: unknown;
      try {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      } catch (err) {
        error = err;
      }
      expect(text.length).to.be.greaterThan(0);
      expect(error).to.be.instanceOf(OpenAI.APIError);
      expect(String((error as Error).message)).to.contain('stream broke off');
      // Charged for the prompt and at least the text that reached the client, whatever partial
      // usage the upstream had sent before it broke off.
      const row = await logRow(channelId, model);
      expect(row.prompt_tokens).to.be.greaterThan(0);
      expect(row.completion_tokens).to.be.at.least(await countTextTokens(text));
      expect(row.quota).to.equal(
        expectedQuota({
          prompt: row.prompt_tokens,
          cached: row.cached_tokens,
          completion: row.completion_tokens,
          cacheWrite: 0,
        }),
      );
    });

    it("a stall (headers, then nothing): the channel's own timeouts pass it over for another channel", async () => {
      const { model } = await setUp('stall', true, { first_byte_timeout_ms: 300, idle_timeout_ms: 300 });
      const started = Date.now();
      const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] });
      expect(r.choices[0]?.message.content).to.contain('Hello from fb');
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).to.contain('Hello from fb');
      expect(Date.now() - started).to.be.lessThan(8_000);
    });
  });
}
