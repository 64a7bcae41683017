import type { UpstreamErrorInfo } from '../provider-adapter.js';

type Kind = NonNullable<UpstreamErrorInfo['kind']>;

/** Bedrock's exception names (HTTP answers and stream exception frames alike) and what they say. */
const KINDS: Record<string, Kind> = {
  throttlingexception: 'rate_limited',
  servicequotaexceededexception: 'rate_limited',
  modelnotreadyexception: 'rate_limited',
  accessdeniedexception: 'unusable',
  unrecognizedclientexception: 'unusable',
  invalidsignatureexception: 'unusable',
  expiredtokenexception: 'unusable',
  validationexception: 'client',
  internalserverexception: 'fault',
  serviceunavailableexception: 'fault',
  modelstreamerrorexception: 'fault',
  modeltimeoutexception: 'fault',
  modelerrorexception: 'fault',
};

/** By status when the exception's name did not come in the body (it is in a header). */
function kindOfStatus(status: number): Kind | undefined {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'unusable';
  if (status === 400) return 'client';
  // ModelTimeoutException (408) and ModelErrorException (424): the model failed, not the request.
  if (status === 408 || status === 424) return 'fault';
  return undefined;
}

/** What an exception of this name (`ThrottlingException`, `throttlingException`…) means for the channel. */
export function exceptionKind(name: string | null): Kind | undefined {
  return name ? KINDS[name.toLowerCase()] : undefined;
}

/**
 * A Bedrock error answer: `{"message": "…"}` (some services say `Message`), the exception's name
 * in the `x-amzn-ErrorType` header or `__type`. 403 is AccessDeniedException or
 * UnrecognizedClientException (credentials), 429 ThrottlingException, 400 ValidationException.
 */
export function readBedrockError(status: number, text: string): UpstreamErrorInfo {
  const info: UpstreamErrorInfo = { message: text.slice(0, 500) || `HTTP ${status}`, code: null, type: null };
  try {
    const body = JSON.parse(text) as { message?: unknown; Message?: unknown; __type?: unknown };
    const message = body.message ?? body.Message;
    if (typeof message === 'string') info.message = message;
    if (typeof body.__type === 'string') {
      // `com.amazon.coral.service#ThrottlingException` or `ThrottlingException:http://…`
      const name = body.__type.split('#').pop()!.split(':')[0]!;
      info.code = name;
      info.type = name;
    }
  } catch {
    // Not JSON (a proxy's page): its start is the message.
  }
  const kind = exceptionKind(info.code) ?? kindOfStatus(status);
  if (kind) info.kind = kind;
  return info;
}
