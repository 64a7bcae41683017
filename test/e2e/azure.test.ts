import { expect } from 'chai';
import OpenAI from 'openai';
import { AZURE_KEY, startFakeAzure, type FakeAzure } from '../helpers/fake-azure.js';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstream.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { apiError } from '../helpers/openai.js';

describe('Azure OpenAI channels (type "azure")', function () {
  this.timeout(20_000);
  let gw: TestGateway;
  let azure: FakeAzure;
  let openai: FakeUpstream;
  let client: OpenAI;

  before(async () => {
    azure = await startFakeAzure();
    openai = await startFakeUpstream();
    gw = await startTestGateway();
    // The deployment is the channel's mapped model name.
    await gw.channel({
      name: 'azure-deployments',
      type: 'azure',
      base_url: azure.baseUrl('east'),
      key: AZURE_KEY,
      models: ['text-embedding-3-small', 'gpt-35-turbo-instruct'],
      model_mapping: { 'gpt-4o': 'prod-gpt4o' },
      settings: { api_version: '2024-10-21' },
    });
    await gw.channel({
      name: 'azure-v1',
      type: 'azure',
      base_url: azure.baseUrl('west'),
      key: AZURE_KEY,
      models: ['gpt-4.1'],
      settings: { api_version: 'v1' },
    });
    await gw.channel({
      name: 'azure-filter',
      type: 'azure',
      base_url: azure.baseUrl('strict', 'filter'),
      key: AZURE_KEY,
      models: ['filtered-model'],
      priority: 10,
    });
    await gw.channel({
      name: 'openai-behind',
      base_url: openai.baseUrl('behind'),
      models: ['filtered-model'],
    });
    client = new OpenAI({ apiKey: (await gw.token()).key, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await azure?.close();
    await openai?.close();
  });

  it('chat goes to the mapped deployment with the key in api-key and the api-version', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0]?.message.content).to.equal('Hello from Azure east');
    const seen = azure.requests.at(-1)!;
    expect(seen).to.include({ api: 'deployments', deployment: 'prod-gpt4o', apiVersion: '2024-10-21' });
    expect(seen.headers.authorization).to.equal(undefined);
  });

  it('streams, with the usage chunk only when the client asked for it', async () => {
    const read = async (includeUsage: boolean) => {
      const s = await client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
      let text = '';
      let usage = false;
      for await (const c of s) {
        text += c.choices[0]?.delta?.content ?? '';
        usage ||= !!c.usage;
      }
      return { text, usage };
    };
    expect(await read(false)).to.deep.equal({ text: 'Hello from Azure east', usage: false });
    expect(await read(true)).to.deep.equal({ text: 'Hello from Azure east', usage: true });
  });

  it('completions and embeddings', async () => {
    const c = await client.completions.create({ model: 'gpt-35-turbo-instruct', prompt: 'x' });
    expect(c.choices[0]?.text).to.equal('Azure east completes');
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b', 'c'] });
    expect(e.data).to.have.length(3);
    expect(azure.requests.at(-1)).to.include({
      operation: 'embeddings',
      deployment: 'text-embedding-3-small',
    });
  });

  it('the v1 API: no api-version, the deployment in the body', async () => {
    const r = await client.chat.completions.create({
      model: 'gpt-4.1',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.choices[0]?.message.content).to.equal('Hello from Azure west');
    expect(azure.requests.at(-1)).to.include({ api: 'v1', apiVersion: null });
    expect(azure.requests.at(-1)!.body.model).to.equal('gpt-4.1');
  });

  it("a content-filter refusal is the client's: 400, not retried, the channel left alone", async () => {
    const before = openai.requests.length;
    const err = await apiError(
      client.chat.completions.create({
        model: 'filtered-model',
        messages: [{ role: 'user', content: 'bad' }],
      }),
    );
    expect(err.status).to.equal(400);
    expect(err.code).to.equal('content_filter');
    expect(openai.requests.length).to.equal(before);
    const channels = (await gw.admin('GET', '/api/channels?q=azure-filter')).body.data;
    expect(channels[0].status).to.equal('enabled');
  });

  it('settings are validated by the type: a bad api_version, an unknown field, an unknown type', async () => {
    const bad = await gw.admin('POST', '/api/channels', {
      name: 'bad-azure',
      type: 'azure',
      base_url: azure.url,
      key: 'k',
      settings: { api_version: 'yesterday' },
    });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.param).to.equal('settings.api_version');
    const unknown = await gw.admin('POST', '/api/channels', {
      name: 'bad-azure2',
      type: 'azure',
      base_url: azure.url,
      key: 'k',
      settings: { region: 'x' },
    });
    expect(unknown.status).to.equal(400);
    const type = await gw.admin('POST', '/api/channels', {
      name: 'bad-type',
      type: 'nope',
      base_url: azure.url,
      key: 'k',
    });
    expect(type.status).to.equal(400);
    expect(type.body.error.param).to.equal('type');
    // Defaults are filled in and shown.
    const ok = await gw.channel({ name: 'azure-default', type: 'azure', base_url: azure.url, key: 'k' });
    expect(ok.settings).to.deep.equal({ api_version: '2024-10-21', responses_api: false });
  });

  it('channel tests and the upstream model list go through the Azure adapter', async () => {
    const list = (await gw.admin('GET', '/api/channels?q=azure-deployments')).body.data;
    const id = list[0].id;
    const t = await gw.admin('POST', `/api/channels/${id}/test`, { model: 'gpt-4o' });
    expect(t.status).to.equal(200);
    expect(t.body.data).to.include({ ok: true, status: 200 });
    const m = await gw.admin('GET', `/api/channels/${id}/upstream-models`);
    expect(m.body.data).to.deep.equal(['gpt-4o', 'text-embedding-3-small']);
  });
});
