import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { TokenCounts } from '../billing/price-book.js';
import type { AppError } from '../errors/app.error.js';
import type { Endpoint } from './adapters/provider-adapter.js';
import type { ChatRequest, IngressFormat } from './ingress/ingress-format.js';
import type { RelayCaller } from './relay-auth.js';

/** What the access log line reports about a relayed request; filled in as the relay goes. */
export interface RelayLogFields {
  tokenId?: number;
  userId?: number;
  model?: string;
  channelId?: number;
  upstreamModel?: string;
  attempts?: number;
  stream?: boolean;
  /** Quota charged (the access log shows it). */
  usage?: number;
  /** From the start of the relay to the first byte sent to the client. */
  ttftMs?: number;
}

export interface RelayRequest {
  requestId: string;
  endpoint: Endpoint;
  /** The client's JSON body, in the endpoint's format; `model` is a non-empty string. */
  body: Record<string, unknown> & { model: string };
  /** For `messages` and `responses`: the format, and the body as an OpenAI chat request (the bridge sends it; local counts read it). */
  ingress?: {
    format: IngressFormat;
    chat: ChatRequest;
    /** Set when the request cannot be bridged (see `IngressFormat.bridgeProblem`): channels that would bridge it are passed over. */
    unbridgeable?: AppError;
  };
  caller: RelayCaller;
  /** The client's request headers (a native pass-through may carry a provider's own, see `AdapterRequest.clientHeaders`). */
  headers?: IncomingHttpHeaders;
  res: ServerResponse;
  log: RelayLogFields;
  /** When the relay started (ms). */
  startedAt?: number;
  /** Billing is on: count the answer's tokens locally when the upstream reports none. */
  billed?: boolean;
}

/** How a relayed request ended: what the handler settles and logs from. */
export interface RelayOutcome {
  /** The status the client got (or gets, with `error`). */
  status: number;
  /** Set when no answer reached the client: the handler answers it. */
  error?: AppError;
  channelId?: number;
  upstreamModel?: string;
  attempts: number;
  /** Tokens of the answer that reached the client (wholly or in part); unset when none did or billing is off. */
  counts?: TokenCounts;
  ttftMs?: number;
  /** The client went away before the answer ended. */
  clientGone?: boolean;
}
