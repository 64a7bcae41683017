import type { NormalizedUsage } from '../adapters/provider-adapter.js';
import type { ChatRequest, IngressFormat, IngressStreamEncoder } from './ingress-format.js';
import { completionToResponse, type ResponseBody } from './responses/responses-answer.js';
import {
  bridgeProblem,
  responsesToChat,
  validateResponsesRequest,
  type NativeOnlyError,
} from './responses/responses-request.js';
import { ResponsesStreamEncoder } from './responses/responses-stream.js';

/**
 * OpenAI's Responses API (`POST /v1/responses`) bridged through chat completions, for every
 * channel that does not serve it natively: the request becomes a chat request, a whole chat
 * completion becomes a Response object, and a chat stream becomes the `response.*` event
 * sequence. The gateway keeps no response: `previous_response_id`, `conversation` and stored
 * prompts are refused with a 400 that says so (see docs/providers/responses.md).
 */
export class ResponsesFormat implements IngressFormat {
  readonly endpoint = 'responses' as const;

  validate(body: Record<string, unknown>): void {
    validateResponsesRequest(body);
  }

  /** Leaves out what only a native channel serves; then `bridgeProblem` says why it cannot be bridged. */
  toChat(body: Record<string, unknown>): ChatRequest {
    return responsesToChat(body, false);
  }

  bridgeProblem(body: Record<string, unknown>): NativeOnlyError | undefined {
    return bridgeProblem(body);
  }

  /** `request`, when given, is the client's body: the Response echoes its settings as OpenAI's does. */
  fromChat(
    completion: Record<string, unknown>,
    usage: NormalizedUsage | undefined,
    model: string,
    request?: Record<string, unknown>,
  ): ResponseBody {
    return completionToResponse(completion, usage, model, request);
  }

  streamEncoder(model: string, id: string, request?: Record<string, unknown>): IngressStreamEncoder {
    // The relay may hand over its own id (a request id, a `chatcmpl-` id): a Response's id is `resp_…`.
    const responseId = id.startsWith('resp_') ? id : `resp_${id.replace(/^chatcmpl-/, '')}`;
    return new ResponsesStreamEncoder(model, responseId, request);
  }

  /** The Responses API answers errors in OpenAI's usual shape. */
  errorBody(err: {
    status: number;
    type: string;
    code: string | null;
    message: string;
    param?: string | null;
  }) {
    return { error: { message: err.message, type: err.type, param: err.param ?? null, code: err.code } };
  }
}

/** The one instance the relay registers for `responses`. */
export const responsesFormat = new ResponsesFormat();
