import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  type Message,
  type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import {
  BEDROCK_API_KEY,
  BEDROCK_CREDENTIALS,
  BEDROCK_SESSION_CREDENTIALS,
  BEDROCK_USAGE,
  startFakeBedrock,
  type FakeBedrock,
} from '../helpers/fake-bedrock.js';

/**
 * The fake Bedrock upstream checked against AWS's official client
 * (`@aws-sdk/client-bedrock-runtime`): the SDK's SigV4 signatures verify, its Converse and
 * ConverseStream calls are accepted, and it reads the fake's answers, event streams and errors.
 * The SDK talks HTTP/2 by default; the fake (like the gateway's client) speaks HTTP/1.1, which
 * Bedrock also serves, so the SDK is given its HTTP/1.1 handler. The bytes are the same.
 */
describe('fake Bedrock upstream, checked with @aws-sdk/client-bedrock-runtime', () => {
  let fake: FakeBedrock;
  const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
  const client = (
    mode = 'ok',
    credentials: {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken?: string;
    } = BEDROCK_CREDENTIALS,
  ) =>
    new BedrockRuntimeClient({
      region: 'eu-west-1',
      endpoint: fake.baseUrl('sdk', mode),
      credentials,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler(),
    });
  const hi: Message[] = [{ role: 'user', content: [{ text: 'Hi there' }] }];
  /** The error a call failed with (the test fails if it did not). */
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('the call succeeded'),
      (e: unknown) => e as Error & { $metadata: { httpStatusCode: number } },
    );

  before(async () => {
    fake = await startFakeBedrock();
  });
  after(async () => {
    await fake.close();
  });

  it('verifies the SDK signature and answers Converse with text and usage', async () => {
    const res = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: hi,
        system: [{ text: 'Be brief' }],
        inferenceConfig: { maxTokens: 50, temperature: 0.5, stopSequences: ['END'] },
      }),
    );
    expect(res.output?.message?.content?.[0]?.text).to.equal('Hello from Bedrock: Hi there');
    expect(res.stopReason).to.equal('end_turn');
    expect(res.usage).to.include({
      inputTokens: BEDROCK_USAGE.input,
      outputTokens: BEDROCK_USAGE.output,
      cacheReadInputTokens: BEDROCK_USAGE.cacheRead,
      cacheWriteInputTokens: BEDROCK_USAGE.cacheWrite,
    });
    const call = fake.calls.at(-1)!;
    expect(call).to.include({ auth: 'sigv4', region: 'eu-west-1', modelId: MODEL, operation: 'converse' });
    // The model id's colon travels percent-encoded in the path, as the SDK sends it.
    expect(call.path).to.include('v1%3A0');
  });

  it('verifies a signature made with a session token', async () => {
    await client('ok', BEDROCK_SESSION_CREDENTIALS).send(
      new ConverseCommand({ modelId: MODEL, messages: hi }),
    );
    expect(fake.calls.at(-1)!.auth).to.equal('sigv4');
  });

  it('refuses a wrong secret (InvalidSignatureException) and an unknown key id (UnrecognizedClientException)', async () => {
    const wrong = await failure(
      client('ok', { ...BEDROCK_CREDENTIALS, secretAccessKey: 'not-the-secret' }).send(
        new ConverseCommand({ modelId: MODEL, messages: hi }),
      ),
    );
    expect(wrong).to.deep.include({ name: 'InvalidSignatureException' });
    const unknown = await failure(
      client('ok', { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' }).send(
        new ConverseCommand({ modelId: MODEL, messages: hi }),
      ),
    );
    expect(unknown.name).to.equal('UnrecognizedClientException');
    expect(unknown.$metadata.httpStatusCode).to.equal(403);
  });

  it('takes a Bedrock API key as a Bearer token', async () => {
    const bearer = new BedrockRuntimeClient({
      region: 'us-east-1',
      endpoint: fake.baseUrl('sdk'),
      token: { token: BEDROCK_API_KEY },
      authSchemePreference: ['httpBearerAuth'],
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler(),
    });
    const res = await bearer.send(new ConverseCommand({ modelId: MODEL, messages: hi }));
    expect(res.output?.message?.content?.[0]?.text).to.equal('Hello from Bedrock: Hi there');
    expect(fake.calls.at(-1)!.auth).to.equal('bearer');
  });

  it('streams ConverseStream events the SDK decodes, with the stop reason and usage', async () => {
    const res = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: hi }));
    let text = '';
    let stop: string | undefined;
    let output: number | undefined;
    for await (const e of res.stream!) {
      text += e.contentBlockDelta?.delta?.text ?? '';
      stop = e.messageStop?.stopReason ?? stop;
      output = e.metadata?.usage?.outputTokens ?? output;
    }
    expect(text).to.equal('Hello from Bedrock: Hi there');
    expect(stop).to.equal('end_turn');
    expect(output).to.equal(BEDROCK_USAGE.output);
  });

  it('calls tools (whole and streamed) and takes their results back', async () => {
    const tools: Tool[] = [
      {
        toolSpec: {
          name: 'get_weather',
          description: 'Weather of a city',
          inputSchema: {
            json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        },
      },
    ];
    const first = await client().send(
      new ConverseCommand({ modelId: MODEL, messages: hi, toolConfig: { tools, toolChoice: { any: {} } } }),
    );
    expect(first.stopReason).to.equal('tool_use');
    const use = first.output!.message!.content![0]!.toolUse!;
    expect(use.name).to.equal('get_weather');
    expect(use.input).to.deep.equal({ city: 'Paris' });

    const streamed = await client().send(
      new ConverseStreamCommand({ modelId: MODEL, messages: hi, toolConfig: { tools } }),
    );
    let name: string | undefined;
    let input = '';
    for await (const e of streamed.stream!) {
      name = e.contentBlockStart?.start?.toolUse?.name ?? name;
      input += e.contentBlockDelta?.delta?.toolUse?.input ?? '';
    }
    expect(name).to.equal('get_weather');
    expect(JSON.parse(input)).to.deep.equal({ city: 'Paris' });

    const second = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        toolConfig: { tools },
        messages: [
          ...hi,
          { role: 'assistant', content: [{ toolUse: use }] },
          {
            role: 'user',
            content: [{ toolResult: { toolUseId: use.toolUseId!, content: [{ json: { temp: 21 } }] } }],
          },
        ],
      }),
    );
    expect(second.output?.message?.content?.[0]?.text).to.include('"temp":21');
  });

  it('takes images', async () => {
    const res = await client().send(
      new ConverseCommand({
        modelId: MODEL,
        messages: [
          {
            role: 'user',
            content: [
              { text: 'what' },
              { image: { format: 'png', source: { bytes: Buffer.from('png-bytes') } } },
            ],
          },
        ],
      }),
    );
    expect(res.output?.message?.content?.[0]?.text).to.equal('Hello from Bedrock: what [1 image]');
  });

  it('refuses what the real service refuses: turns that do not alternate, tool results without their uses', async () => {
    const twice = await failure(
      client().send(new ConverseCommand({ modelId: MODEL, messages: [...hi, ...hi] })),
    );
    expect(twice.name).to.equal('ValidationException');
    expect(twice.message).to.include('alternate');
    const orphan = await failure(
      client().send(
        new ConverseCommand({
          modelId: MODEL,
          messages: [
            { role: 'user', content: [{ toolResult: { toolUseId: 'x', content: [{ text: 'r' }] } }] },
          ],
        }),
      ),
    );
    expect(orphan.name).to.equal('ValidationException');
  });

  for (const [mode, name, status] of [
    ['429', 'ThrottlingException', 429],
    ['500', 'InternalServerException', 500],
    ['denied', 'AccessDeniedException', 403],
  ] as const) {
    it(`answers mode ${mode} as ${name} (${status})`, async () => {
      const err = await failure(client(mode).send(new ConverseCommand({ modelId: MODEL, messages: hi })));
      expect(err.name).to.equal(name);
      expect(err.$metadata.httpStatusCode).to.equal(status);
    });
  }

  it('sends an exception frame mid-stream that the SDK raises as ThrottlingException', async () => {
    const res = await client('midthrottle').send(new ConverseStreamCommand({ modelId: MODEL, messages: hi }));
    let text = '';
    const err = await (async () => {
      for await (const e of res.stream!) text += e.contentBlockDelta?.delta?.text ?? '';
    })().catch((e: unknown) => e as Error);
    expect(text).to.equal('Hello from Bedrock: Hi there');
    expect(err).to.be.instanceOf(Error);
    expect((err as Error).name).to.equal('ThrottlingException');
  });
});
