import type { IdentityCache } from '../cfg/identity-cache.js';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';
import { AuthenticationError } from '../errors/authentication.error.js';
import { hashKey } from '../security/keys.js';
import { checkTokenUsable } from './token-check.js';

export interface RelayCaller {
  token: TokenRecord;
  user: UserRecord;
}

/** Reads the API key from `Authorization: Bearer …` (or `x-api-key`, as Anthropic clients send it). */
export function bearerKey(
  authorization: string | undefined,
  apiKeyHeader?: string | undefined,
): string | undefined {
  if (authorization) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return m?.[1];
  }
  return apiKeyHeader?.trim() || undefined;
}

/** Resolves a relay API key to its token and user through L1 (then the source), and checks them. */
export class RelayAuth {
  constructor(
    private readonly identities: IdentityCache,
    private readonly touches?: { mark(tokenId: number): void },
  ) {}

  async authenticate(key: string | undefined, clientIp: string): Promise<RelayCaller> {
    if (!key) {
      throw new AuthenticationError('Missing API key: send it as "Authorization: Bearer sk-…"', {
        code: 'missing_api_key',
      });
    }
    const token = await this.identities.token(hashKey(key));
    if (!token) throw new AuthenticationError('Incorrect API key provided');
    const user = await this.identities.user(token.userId);
    checkTokenUsable(token, user, clientIp);
    this.touches?.mark(token.id);
    return { token, user: user! };
  }
}
