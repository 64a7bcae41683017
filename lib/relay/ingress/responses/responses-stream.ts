import type { NormalizedUsage } from '../../adapters/provider-adapter.js';
import type { IngressStreamEncoder } from '../ingress-format.js';
import {
  finish,
  isObject,
  newId,
  responseShell,
  usageOfCompletion,
  type FunctionCallItem,
  type MessageItem,
  type OutputRefusal,
  type OutputText,
  type ReasoningItem,
  type ResponseBody,
} from './responses-answer.js';

type Json = Record<string, unknown>;

/** The codes a Response object's `error` may carry (OpenAI's `ResponseError.code`); others become `server_error`. */
const RESPONSE_ERROR_CODES = new Set(['server_error', 'rate_limit_exceeded', 'invalid_prompt']);

interface OpenMessage {
  item: MessageItem;
  index: number;
  /** The part being written (text or refusal), and its index in `item.content`. */
  part: OutputText | OutputRefusal | null;
}

interface OpenReasoning {
  item: ReasoningItem;
  index: number;
}

interface OpenCall {
  item: FunctionCallItem;
  index: number;
}

/**
 * Turns OpenAI `chat.completion.chunk` objects into the Responses API's stream, in the order
 * OpenAI documents it: `response.created`, `response.in_progress`, then per output item
 * `response.output_item.added` → (`response.content_part.added` → `response.output_text.delta`…
 * → `response.output_text.done` → `response.content_part.done`) or
 * (`response.function_call_arguments.delta`… → `.done`) → `response.output_item.done`, and
 * `response.completed` (or `response.incomplete`) with the whole Response and its usage. Every
 * event carries its `sequence_number`.
 */
export class ResponsesStreamEncoder implements IngressStreamEncoder {
  private seq = 0;
  private started = false;
  private ended = false;
  private readonly response: ResponseBody;
  private message: OpenMessage | null = null;
  private reasoning: OpenReasoning | null = null;
  /** Function calls being written, by the chat chunk's `tool_calls[].index`. */
  private readonly calls = new Map<number, OpenCall>();
  private finishReason: unknown = null;
  private chatUsage: NormalizedUsage | undefined;

  constructor(model: string, id: string, request?: Json) {
    this.response = responseShell(id, model, request, Math.floor(Date.now() / 1000));
  }

  push(chunk: Json): string {
    if (this.ended) return '';
    let out = this.start();
    if (isObject(chunk.usage)) this.chatUsage = usageOfCompletion(chunk);
    const choice = Array.isArray(chunk.choices) ? chunk.choices.find(isObject) : undefined;
    if (!choice) return out;
    const delta = isObject(choice.delta) ? choice.delta : {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof reasoning === 'string' && reasoning !== '') out += this.reasoningDelta(reasoning);
    if (typeof delta.content === 'string' && delta.content !== '')
      out += this.textDelta('output_text', delta.content);
    if (typeof delta.refusal === 'string' && delta.refusal !== '')
      out += this.textDelta('refusal', delta.refusal);
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) if (isObject(call)) out += this.callDelta(call);
    }
    if (choice.finish_reason !== undefined && choice.finish_reason !== null)
      this.finishReason = choice.finish_reason;
    return out;
  }

  end(usage: NormalizedUsage | undefined): string {
    if (this.ended) return '';
    let out = this.start();
    out += this.closeAll();
    this.ended = true;
    finish(this.response, this.finishReason, usage ?? this.chatUsage);
    const type = this.response.status === 'incomplete' ? 'response.incomplete' : 'response.completed';
    return out + this.event(type, { response: this.response });
  }

  /**
   * The stream broke: an `error` event, then `response.failed` with the Response so far. An
   * encoder that never started (a native pass-through's stream, whose `response.created` came
   * from the upstream) sends the `error` event only.
   */
  error(message: string, code: string): string {
    if (this.ended) return '';
    this.ended = true;
    const out = this.event('error', { code, message, param: null });
    if (!this.started) return out;
    this.response.status = 'failed';
    this.response.error = {
      code: (RESPONSE_ERROR_CODES.has(code) ? code : 'server_error') as 'server_error',
      message,
    };
    return out + this.event('response.failed', { response: this.response });
  }

  private start(): string {
    if (this.started) return '';
    this.started = true;
    return (
      this.event('response.created', { response: this.response }) +
      this.event('response.in_progress', { response: this.response })
    );
  }

  private reasoningDelta(text: string): string {
    let out = '';
    if (!this.reasoning) {
      out += this.closeMessage();
      const item: ReasoningItem = {
        type: 'reasoning',
        id: newId('rs'),
        summary: [],
        content: [],
        status: 'in_progress',
      };
      this.reasoning = { item, index: this.addItem(item) };
      out += this.event('response.output_item.added', { output_index: this.reasoning.index, item });
      const part = { type: 'reasoning_text' as const, text: '' };
      item.content.push(part);
      out += this.event(
        'response.content_part.added',
        this.partRef(item.id, this.reasoning.index, 0, { part }),
      );
    }
    const { item, index } = this.reasoning;
    item.content[0]!.text += text;
    return (
      out + this.event('response.reasoning_text.delta', this.partRef(item.id, index, 0, { delta: text }))
    );
  }

  private textDelta(kind: 'output_text' | 'refusal', text: string): string {
    let out = this.closeReasoning();
    if (!this.message) {
      const item: MessageItem = {
        type: 'message',
        id: newId('msg'),
        status: 'in_progress',
        role: 'assistant',
        content: [],
      };
      this.message = { item, index: this.addItem(item), part: null };
      out += this.event('response.output_item.added', { output_index: this.message.index, item });
    }
    const m = this.message;
    if (m.part?.type !== kind) {
      out += this.closePart();
      const part: OutputText | OutputRefusal =
        kind === 'output_text'
          ? { type: 'output_text', text: '', annotations: [], logprobs: [] }
          : { type: 'refusal', refusal: '' };
      m.item.content.push(part);
      m.part = part;
      out += this.event(
        'response.content_part.added',
        this.partRef(m.item.id, m.index, m.item.content.length - 1, { part }),
      );
    }
    const at = this.partRef(m.item.id, m.index, m.item.content.length - 1, { delta: text });
    if (m.part!.type === 'output_text') {
      m.part!.text += text;
      return out + this.event('response.output_text.delta', { ...at, logprobs: [] });
    }
    m.part!.refusal += text;
    return out + this.event('response.refusal.delta', at);
  }

  private callDelta(call: Json): string {
    const key = typeof call.index === 'number' ? call.index : 0;
    const fn = isObject(call.function) ? call.function : {};
    let out = '';
    let open = this.calls.get(key);
    if (!open) {
      out += this.closeReasoning() + this.closeMessage();
      const item: FunctionCallItem = {
        type: 'function_call',
        id: newId('fc'),
        call_id: typeof call.id === 'string' && call.id !== '' ? call.id : newId('call'),
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: '',
        status: 'in_progress',
      };
      open = { item, index: this.addItem(item) };
      this.calls.set(key, open);
      out += this.event('response.output_item.added', { output_index: open.index, item });
    } else if (typeof fn.name === 'string' && fn.name !== '' && open.item.name === '') {
      open.item.name = fn.name;
    }
    const args = fn.arguments;
    if (typeof args === 'string' && args !== '') {
      open.item.arguments += args;
      out += this.event('response.function_call_arguments.delta', {
        item_id: open.item.id,
        output_index: open.index,
        delta: args,
      });
    }
    return out;
  }

  private closeAll(): string {
    let out = this.closeReasoning() + this.closeMessage();
    for (const call of [...this.calls.values()].sort((a, b) => a.index - b.index)) {
      out += this.event('response.function_call_arguments.done', {
        item_id: call.item.id,
        output_index: call.index,
        name: call.item.name,
        arguments: call.item.arguments,
      });
      out += this.itemDone(call.item, call.index);
    }
    this.calls.clear();
    return out;
  }

  private closeReasoning(): string {
    const r = this.reasoning;
    if (!r) return '';
    this.reasoning = null;
    const part = r.item.content[0]!;
    return (
      this.event('response.reasoning_text.done', this.partRef(r.item.id, r.index, 0, { text: part.text })) +
      this.event('response.content_part.done', this.partRef(r.item.id, r.index, 0, { part })) +
      this.itemDone(r.item, r.index)
    );
  }

  private closeMessage(): string {
    const m = this.message;
    if (!m) return '';
    const out = this.closePart();
    this.message = null;
    return out + this.itemDone(m.item, m.index);
  }

  private closePart(): string {
    const m = this.message;
    const part = m?.part;
    if (!m || !part) return '';
    m.part = null;
    const contentIndex = m.item.content.length - 1;
    const done =
      part.type === 'output_text'
        ? this.event(
            'response.output_text.done',
            this.partRef(m.item.id, m.index, contentIndex, { text: part.text, logprobs: [] }),
          )
        : this.event(
            'response.refusal.done',
            this.partRef(m.item.id, m.index, contentIndex, { refusal: part.refusal }),
          );
    return (
      done +
      this.event('response.content_part.done', this.partRef(m.item.id, m.index, contentIndex, { part }))
    );
  }

  private itemDone(item: MessageItem | ReasoningItem | FunctionCallItem, index: number): string {
    item.status = 'completed';
    return this.event('response.output_item.done', { output_index: index, item });
  }

  private addItem(item: MessageItem | ReasoningItem | FunctionCallItem): number {
    this.response.output.push(item);
    return this.response.output.length - 1;
  }

  private partRef(itemId: string, outputIndex: number, contentIndex: number, rest: Json): Json {
    return { item_id: itemId, output_index: outputIndex, content_index: contentIndex, ...rest };
  }

  /** One SSE event; the data is serialised now, so later changes to the response do not show in it. */
  private event(type: string, fields: Json): string {
    const data = JSON.stringify({ type, sequence_number: this.seq++, ...fields });
    return `event: ${type}\ndata: ${data}\n\n`;
  }
}
