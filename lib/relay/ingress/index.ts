import type { IngressEndpoint, IngressFormat } from './ingress-format.js';
import { MessagesFormat } from './messages.format.js';
import { responsesFormat } from './responses.format.js';

/**
 * The client-facing formats other than OpenAI's, by endpoint. A format listed here gets its
 * route (`/v1/messages`, `/v1/responses`) and is bridged through chat to channels that do not
 * speak it.
 */
export function createIngressFormats(): ReadonlyMap<IngressEndpoint, IngressFormat> {
  return new Map<IngressEndpoint, IngressFormat>([
    ['messages', new MessagesFormat()],
    ['responses', responsesFormat],
  ]);
}
