import { ApiError, FunctionCallingConfigMode, GoogleGenAI, Type, type Tool } from '@google/genai';
import { expect } from 'chai';
import { GEMINI_KEY, GEMINI_USAGE, startFakeGemini, type FakeGemini } from '../helpers/fake-gemini.js';

/**
 * The fake Gemini upstream checked against Google's official client (`@google/genai`): what the
 * client sends, the fake accepts; what the fake answers, the client reads. So the fake speaks
 * the real wire format, and the adapter tests against it mean something.
 */
describe('fake Gemini upstream, checked with @google/genai', () => {
  let fake: FakeGemini;
  const client = (mode = 'ok', apiKey = GEMINI_KEY) =>
    new GoogleGenAI({
      apiKey,
      httpOptions: { baseUrl: fake.baseUrl('sdk', mode), retryOptions: { attempts: 1 } },
    });

  before(async () => {
    fake = await startFakeGemini();
  });
  after(async () => {
    await fake.close();
  });

  it('answers a whole generateContent with text and usage, the key in x-goog-api-key', async () => {
    const res = await client().models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'Hi there',
      config: {
        systemInstruction: 'Be brief',
        maxOutputTokens: 50,
        temperature: 0.2,
        thinkingConfig: { thinkingBudget: 1024 },
      },
    });
    expect(res.text).to.equal('Hello from Gemini: Hi there');
    expect(res.usageMetadata?.promptTokenCount).to.equal(GEMINI_USAGE.prompt);
    expect(res.usageMetadata?.cachedContentTokenCount).to.equal(GEMINI_USAGE.cached);
    expect(res.usageMetadata?.thoughtsTokenCount).to.equal(GEMINI_USAGE.thoughts);
    const call = fake.calls.at(-1)!;
    expect(call.apiKey).to.equal(GEMINI_KEY);
    expect(call.action).to.equal('generateContent');
    expect(call.apiVersion).to.equal('v1beta');
    expect(call.path).to.not.include('key=');
  });

  it('streams text over SSE with a finish reason and usage', async () => {
    const stream = await client().models.generateContentStream({
      model: 'gemini-2.5-flash',
      contents: 'one two three',
    });
    let text = '';
    let finish: string | undefined;
    let prompt: number | undefined;
    let events = 0;
    for await (const chunk of stream) {
      events++;
      text += chunk.text ?? '';
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
      prompt = chunk.usageMetadata?.promptTokenCount ?? prompt;
    }
    expect(events).to.be.greaterThan(2);
    expect(text).to.equal('Hello from Gemini: one two three');
    expect(finish).to.equal('STOP');
    expect(prompt).to.equal(GEMINI_USAGE.prompt);
  });

  it('calls functions and takes their responses back, matched by name', async () => {
    const tools: Tool[] = [
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather of a city',
            parameters: {
              type: Type.OBJECT,
              properties: { city: { type: Type.STRING } },
              required: ['city'],
            },
          },
          {
            name: 'get_time',
            parameters: { type: Type.OBJECT, properties: { zone: { type: Type.STRING } } },
          },
        ],
      },
    ];
    const first = await client().models.generateContent({
      model: 'gemini-2.5-flash',
      contents: 'weather and time?',
      config: { tools, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY } } },
    });
    const calls = first.functionCalls ?? [];
    expect(calls.map((c) => c.name)).to.deep.equal(['get_weather', 'get_time']);
    expect(calls[0]!.args).to.deep.equal({ city: 'Paris' });
    const second = await client().models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [
        { role: 'user', parts: [{ text: 'weather and time?' }] },
        { role: 'model', parts: calls.map((c) => ({ functionCall: c })) },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
            { functionResponse: { name: 'get_time', response: { time: '10:00' } } },
          ],
        },
      ],
      config: { tools },
    });
    expect(second.text).to.include('"temp":21');
  });

  it('signs Gemini 3 function calls and wants the signature back, as the SDK sends it', async () => {
    const tools: Tool[] = [{ functionDeclarations: [{ name: 'ping' }] }];
    const first = await client().models.generateContent({
      model: 'gemini-3-pro-preview',
      contents: 'ping?',
      config: { tools },
    });
    const content = first.candidates![0]!.content!;
    expect(content.parts![0]!.thoughtSignature).to.match(/^sig-ping-/);
    const answer = { role: 'user', parts: [{ functionResponse: { name: 'ping', response: { ok: true } } }] };
    const second = await client().models.generateContent({
      model: 'gemini-3-pro-preview',
      contents: [{ role: 'user', parts: [{ text: 'ping?' }] }, content, answer],
      config: { tools },
    });
    expect(second.text).to.include('"ok":true');
    const unsigned = { role: 'model', parts: [{ functionCall: { name: 'ping', args: {} } }] };
    const err = await client()
      .models.generateContent({
        model: 'gemini-3-pro-preview',
        contents: [{ role: 'user', parts: [{ text: 'ping?' }] }, unsigned, answer],
        config: { tools },
      })
      .catch((e: unknown) => e);
    expect((err as ApiError).status).to.equal(400);
  });

  it('refuses function responses that do not answer the calls before them', async () => {
    const err = await client()
      .models.generateContent({
        model: 'gemini-2.5-flash',
        contents: [
          { role: 'user', parts: [{ text: 'x' }] },
          { role: 'model', parts: [{ functionCall: { name: 'a', args: {} } }] },
          { role: 'user', parts: [{ functionResponse: { name: 'b', response: {} } }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ApiError);
    expect((err as ApiError).status).to.equal(400);
    expect((err as ApiError).message).to.include('function response parts');
  });

  it('takes inline images and a JSON response schema', async () => {
    const res = await client().models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [
        {
          role: 'user',
          parts: [{ text: 'what is this' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }],
        },
      ],
      config: {
        responseMimeType: 'application/json',
        responseSchema: { type: Type.OBJECT, properties: { echo: { type: Type.STRING } } },
      },
    });
    expect(JSON.parse(res.text!)).to.deep.equal({ echo: 'what is this', images: 1 });
  });

  it('embeds texts in a batch', async () => {
    const res = await client().models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['hello', 'world!'],
      config: { outputDimensionality: 4 },
    });
    expect(res.embeddings).to.have.length(2);
    expect(res.embeddings![0]!.values).to.have.length(4);
    expect(fake.calls.at(-1)!.action).to.equal('batchEmbedContents');
  });

  it('lists models', async () => {
    const pager = await client().models.list();
    const names: string[] = [];
    for await (const m of pager) names.push(m.name!);
    expect(names).to.include('models/gemini-2.5-flash');
  });

  for (const [mode, status, text] of [
    ['429', 429, 'RESOURCE_EXHAUSTED'],
    ['500', 500, 'INTERNAL'],
    ['denied', 403, 'PERMISSION_DENIED'],
    ['badkey', 400, 'API_KEY_INVALID'],
  ] as const) {
    it(`answers mode ${mode} with Google's error shape (${status})`, async () => {
      const err = await client(mode)
        .models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' })
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ApiError);
      expect((err as ApiError).status).to.equal(status);
      expect((err as ApiError).message).to.include(text === 'API_KEY_INVALID' ? 'API key not valid' : text);
    });
  }

  it('refuses fields the real API does not know', async () => {
    const res = await fetch(`${fake.baseUrl('raw')}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': GEMINI_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }], max_tokens: 5 }),
    });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: { status: string; message: string } };
    expect(body.error.status).to.equal('INVALID_ARGUMENT');
    expect(body.error.message).to.include('max_tokens');
  });
});
