import { expect } from 'chai';
import { AzureOpenAI } from 'openai';
import OpenAI from 'openai';
import { AZURE_KEY, startFakeAzure, type FakeAzure } from '../helpers/fake-azure.js';

/** The fake Azure resource, checked with the official client's Azure class: if they disagree, the fake is wrong. */
describe('fake Azure OpenAI, checked with the official AzureOpenAI client', () => {
  let fake: FakeAzure;
  before(async () => {
    fake = await startFakeAzure();
  });
  after(() => fake.close());

  const client = (mode = 'ok', key = AZURE_KEY) =>
    new AzureOpenAI({
      endpoint: fake.baseUrl('sdk', mode),
      apiKey: key,
      apiVersion: '2024-10-21',
      deployment: 'my-gpt4o',
      maxRetries: 0,
    });

  it('a chat completion and a stream with usage, on the deployments API', async () => {
    const r = await client().chat.completions.create({
      model: 'ignored',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0]?.message.content).to.equal('Hello from Azure sdk');
    const seen = fake.requests.at(-1)!;
    expect(seen).to.include({ api: 'deployments', deployment: 'my-gpt4o', apiVersion: '2024-10-21' });
    expect(seen.headers['api-key']).to.equal(AZURE_KEY);
    const stream = await client('cached').chat.completions.create({
      model: 'ignored',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let cached: number | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) cached = c.usage.prompt_tokens_details?.cached_tokens;
    }
    expect(text).to.equal('Hello from Azure sdk');
    expect(cached).to.equal(8);
  });

  it('embeddings', async () => {
    const r = await client().embeddings.create({ model: 'ignored', input: ['a', 'b'] });
    expect(r.data).to.have.length(2);
  });

  it("errors as the client types them: a refused key, a rate limit, Azure's content filter", async () => {
    const err = (p: Promise<unknown>) =>
      p.then(
        () => expect.fail('no error'),
        (e: unknown) => e,
      );
    const msgs = [{ role: 'user' as const, content: 'hi' }];
    expect(
      await err(client('ok', 'wrong').chat.completions.create({ model: 'x', messages: msgs })),
    ).to.be.instanceOf(OpenAI.AuthenticationError);
    expect(await err(client('429').chat.completions.create({ model: 'x', messages: msgs }))).to.be.instanceOf(
      OpenAI.RateLimitError,
    );
    const filtered = (await err(
      client('filter').chat.completions.create({ model: 'x', messages: msgs }),
    )) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(filtered).to.be.instanceOf(OpenAI.BadRequestError);
    expect(filtered.code).to.equal('content_filter');
  });

  it('refuses the key in Authorization and a path without api-version, as Azure does', async () => {
    const plain = new OpenAI({
      apiKey: AZURE_KEY,
      baseURL: `${fake.baseUrl('sdk')}/openai/deployments/x`,
      maxRetries: 0,
    });
    const e = await plain.chat.completions
      .create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })
      .catch((x: unknown) => x);
    expect(e).to.be.instanceOf(OpenAI.APIError);
    expect([401, 404]).to.include((e as InstanceType<typeof OpenAI.APIError>).status);
  });
});
