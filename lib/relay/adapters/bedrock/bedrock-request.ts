import { BadRequestError } from '../../../errors/bad-request.error.js';
import {
  chatMessages,
  contentPieces,
  functionTools,
  maxTokens,
  numberField,
  stopSequences,
  textOf,
  toolArguments,
  toolChoice,
  type Json,
} from '../chat-translation.js';

/**
 * An OpenAI chat request as a Bedrock Converse body
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
 */

const IMAGE_FORMATS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/** A model id as one path segment, encoded as the AWS SDK does (`:` of `…-v1:0` becomes `%3A`). */
export function modelSegment(model: string): string {
  return encodeURIComponent(model).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

interface Message {
  role: 'user' | 'assistant';
  content: Json[];
}

function messagesOf(body: Json): { system: Json[]; messages: Message[]; usesTools: boolean } {
  const system: Json[] = [];
  const out: Message[] = [];
  let usesTools = false;
  const push = (role: Message['role'], content: Json[]) => {
    if (content.length === 0) return;
    const last = out[out.length - 1];
    // Converse wants user and assistant turns to alternate: consecutive ones are merged.
    if (last && last.role === role) last.content.push(...content);
    else out.push({ role, content });
  };
  chatMessages(body).forEach((m, i) => {
    const param = `messages[${i}].content`;
    switch (m.role) {
      case 'system':
      case 'developer': {
        const text = textOf(m.content, param);
        if (text !== '') system.push({ text });
        break;
      }
      case 'user':
        push(
          'user',
          contentPieces(m.content, param)
            .filter((p) => p.kind !== 'text' || p.text !== '')
            .map((p) => {
              if (p.kind === 'text') return { text: p.text };
              if (p.kind === 'image') {
                const format = IMAGE_FORMATS[p.mimeType];
                if (!format)
                  throw new BadRequestError(
                    `${param}: Bedrock takes png, jpeg, gif or webp images, not ${p.mimeType}`,
                    {
                      param,
                    },
                  );
                return { image: { format, source: { bytes: p.data } } };
              }
              throw new BadRequestError(
                p.kind === 'image-url'
                  ? `${param}: a Bedrock channel takes images as base64 data: URLs, not links`
                  : `${param}: a Bedrock channel does not take audio`,
                { param },
              );
            }),
        );
        break;
      case 'assistant': {
        const content: Json[] = [];
        const text = textOf(m.content, param);
        if (text !== '') content.push({ text });
        (m.tool_calls ?? []).forEach((call, j) => {
          usesTools = true;
          content.push({
            toolUse: {
              toolUseId: call.id,
              name: call.function.name,
              input: toolArguments(call, `messages[${i}].tool_calls[${j}]`),
            },
          });
        });
        push('assistant', content);
        break;
      }
      case 'tool': {
        usesTools = true;
        const text = textOf(m.content, param);
        push('user', [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text }] } }]);
        break;
      }
    }
  });
  if (out.length === 0)
    throw new BadRequestError('`messages` needs at least one user or assistant message', {
      param: 'messages',
    });
  return { system, messages: out, usesTools };
}

function toolConfig(body: Json, usesTools: boolean): Json | undefined {
  const tools = functionTools(body);
  if (tools.length === 0) {
    if (usesTools)
      throw new BadRequestError(
        'Messages with tool calls need the `tools` they call (Bedrock requires them)',
        {
          param: 'tools',
        },
      );
    return undefined;
  }
  const choice = toolChoice(body);
  // Converse has no "none": without tool blocks in the history the tools are left out instead.
  if (choice?.mode === 'none' && !usesTools) return undefined;
  const config: Json = {
    tools: tools.map((t) => ({
      toolSpec: {
        name: t.name,
        ...(t.description !== undefined ? { description: t.description } : {}),
        inputSchema: { json: t.parameters ?? { type: 'object', properties: {} } },
      },
    })),
  };
  if (choice?.mode === 'auto') config.toolChoice = { auto: {} };
  else if (choice?.mode === 'required') config.toolChoice = { any: {} };
  else if (choice?.mode === 'function') config.toolChoice = { tool: { name: choice.name } };
  return config;
}

/** The Converse (and ConverseStream) body for an OpenAI chat request. */
export function converseBody(body: Json): Json {
  const { system, messages, usesTools } = messagesOf(body);
  const out: Json = { messages };
  if (system.length > 0) out.system = system;
  const n = numberField(body, 'n');
  if (n !== undefined && n !== 1)
    throw new BadRequestError('A Bedrock channel answers with one choice: `n` must be 1', { param: 'n' });
  const inference: Json = {};
  const max = maxTokens(body);
  if (max !== undefined) inference.maxTokens = max;
  const temperature = numberField(body, 'temperature');
  if (temperature !== undefined) inference.temperature = temperature;
  const topP = numberField(body, 'top_p');
  if (topP !== undefined) inference.topP = topP;
  const stop = stopSequences(body);
  if (stop) inference.stopSequences = stop;
  if (Object.keys(inference).length > 0) out.inferenceConfig = inference;
  const tools = toolConfig(body, usesTools);
  if (tools) out.toolConfig = tools;
  return out;
}
