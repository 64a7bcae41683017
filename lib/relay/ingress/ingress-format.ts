import type { AppError } from '../../errors/app.error.js';
import type { NormalizedUsage } from '../adapters/provider-adapter.js';

/** The endpoints whose request format is not OpenAI chat, bridged through chat when a channel does not speak them. */
export type IngressEndpoint = 'messages' | 'responses';

/** An OpenAI chat request body (`model` a non-empty string). */
export type ChatRequest = Record<string, unknown> & { model: string };

/** Turns OpenAI `chat.completion.chunk` objects into the client's stream events (SSE bytes). */
export interface IngressStreamEncoder {
  /** One parsed chunk in; the client's complete events out ('' when nothing to send yet). */
  push(chunk: Record<string, unknown>): string;
  /** The upstream stream ended normally; the closing events (with `usage`, when known). */
  end(usage: NormalizedUsage | undefined): string;
  /** The stream broke after it started: the client's error event. */
  error(message: string, code: string): string;
}

/**
 * A client-facing request format other than OpenAI chat (Anthropic's `/v1/messages`, OpenAI's
 * `/v1/responses`). A request in this format to a channel that speaks it natively passes through
 * (model mapped, key swapped); to any other channel it is bridged: translated to chat, relayed,
 * and the answer (whole or streamed) translated back.
 */
export interface IngressFormat {
  readonly endpoint: IngressEndpoint;
  /** Validates the client's body (a `BadRequestError` for a bad one). */
  validate(body: Record<string, unknown>): void;
  /** The client's body as an OpenAI chat request. */
  toChat(body: Record<string, unknown>): ChatRequest;
  /**
   * Why this (valid) request cannot be bridged through chat: it uses what only a channel that
   * speaks the format natively serves (the Responses API's built-in tools). Such a request passes
   * through to native channels and passes the others over; with none left, the client gets this
   * error. Undefined (or no method): it can be bridged, and `toChat` is the whole request.
   */
  bridgeProblem?(body: Record<string, unknown>): AppError | undefined;
  /**
   * A whole OpenAI chat completion (parsed) into the client's answer body. `request` is the
   * client's body, for formats whose answer echoes the request's settings (the Responses API).
   */
  fromChat(
    completion: Record<string, unknown>,
    usage: NormalizedUsage | undefined,
    model: string,
    request?: Record<string, unknown>,
  ): unknown;
  /** A stream encoder for one bridged answer (`request`: as for `fromChat`). */
  streamEncoder(model: string, id: string, request?: Record<string, unknown>): IngressStreamEncoder;
  /** The client's error body for a gateway error. */
  errorBody(err: { status: number; type: string; code: string | null; message: string }): unknown;
}
