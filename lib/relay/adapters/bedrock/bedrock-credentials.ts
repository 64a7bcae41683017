import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';

/** SHA-256 on Node's crypto, as the AWS SDK signs on Node (the pure-JS hash cost ~0.6 ms a request). */
const SHA256 = Hash.bind(null, 'sha256');

/**
 * How a Bedrock channel authenticates, read from its `key` (stored encrypted like every
 * channel key): `ACCESS_KEY_ID:SECRET_ACCESS_KEY` or `ACCESS_KEY_ID:SECRET_ACCESS_KEY:SESSION_TOKEN`
 * signs each request with SigV4; anything else is a Bedrock API key sent as a Bearer token.
 */
export type BedrockCredentials =
  | { kind: 'sigv4'; accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  | { kind: 'bearer'; token: string };

export function bedrockCredentials(key: string): BedrockCredentials {
  const parts = key.split(':');
  if ((parts.length === 2 || parts.length === 3) && /^[A-Z0-9]{16,128}$/.test(parts[0]!) && parts[1] !== '') {
    return {
      kind: 'sigv4',
      accessKeyId: parts[0]!,
      secretAccessKey: parts[1]!,
      ...(parts[2] ? { sessionToken: parts[2] } : {}),
    };
  }
  return { kind: 'bearer', token: key };
}

/** A request to sign, as it will be sent. */
export interface SignableRequest {
  method: 'GET' | 'POST';
  /** `http(s)://host:port` */
  origin: string;
  /** Path (already percent-encoded, as sent) and query. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * The headers to send: the request's own plus `host`, and either SigV4's (`authorization`,
 * `x-amz-date`, `x-amz-security-token`) signed over the final body for the service `bedrock`
 * in `region`, or a Bearer `authorization`. Called for every attempt: a signature is dated.
 */
export async function authorize(
  req: SignableRequest,
  credentials: BedrockCredentials,
  region: string,
): Promise<Record<string, string>> {
  const url = new URL(req.origin);
  const headers = { ...req.headers, host: url.host };
  if (credentials.kind === 'bearer') return { ...headers, authorization: `Bearer ${credentials.token}` };
  const [path, search = ''] = req.path.split('?', 2) as [string, string | undefined];
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  const signer = new SignatureV4({
    service: 'bedrock',
    region,
    sha256: SHA256,
    credentials: {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
    },
  });
  const signed = await signer.sign({
    method: req.method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path,
    query,
    headers,
    body: req.body,
  });
  return signed.headers;
}
