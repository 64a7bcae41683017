import net from 'node:net';
import type { TokenRecord } from '../db/repositories/token.repository.js';
import type { UserRecord } from '../db/repositories/user.repository.js';
import { AuthenticationError } from '../errors/authentication.error.js';
import { PermissionError } from '../errors/permission.error.js';

const blockLists = new WeakMap<TokenRecord, net.BlockList>();

function blockListOf(token: TokenRecord): net.BlockList {
  let list = blockLists.get(token);
  if (!list) {
    list = new net.BlockList();
    for (const subnet of token.subnets ?? []) {
      const [addr, prefix] = subnet.split('/') as [string, string];
      list.addSubnet(addr, Number(prefix), net.isIPv6(addr) ? 'ipv6' : 'ipv4');
    }
    blockLists.set(token, list);
  }
  return list;
}

/** `::ffff:10.0.0.1` (how a dual-stack socket shows an IPv4 client) → `10.0.0.1`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/** True when `ip` is inside one of the token's subnets (or the token has none). */
export function ipAllowed(token: TokenRecord, ip: string): boolean {
  if (!token.subnets) return true;
  const addr = normalizeIp(ip);
  const family = net.isIPv6(addr) ? 'ipv6' : 'ipv4';
  return net.isIP(addr) !== 0 && blockListOf(token).check(addr, family);
}

/**
 * The checks that make a token usable at all, before any model is known: the token and its user
 * are enabled, not expired, and the client's address is allowed. Each failure has its own error.
 */
export function checkTokenUsable(
  token: TokenRecord,
  user: UserRecord | undefined,
  clientIp: string,
  now = Date.now(),
): void {
  if (token.status !== 'enabled')
    throw new AuthenticationError('This API key is disabled', { code: 'token_disabled' });
  if (token.expiresAt !== null && token.expiresAt <= now) {
    throw new AuthenticationError('This API key has expired', { code: 'token_expired' });
  }
  if (!user || user.status !== 'enabled') {
    throw new AuthenticationError("This API key's user is disabled or deleted", { code: 'user_disabled' });
  }
  if (!ipAllowed(token, clientIp)) {
    throw new PermissionError(`Requests from ${normalizeIp(clientIp)} are not allowed for this API key`, {
      code: 'ip_not_allowed',
    });
  }
}

/** True when the token may use `model` (no allow-list = every model). */
export function modelAllowed(token: TokenRecord, model: string): boolean {
  return token.models === null || token.models.includes(model);
}

/** Throws 403 when the token's allow-list excludes `model`. */
export function checkModelAllowed(token: TokenRecord, model: string): void {
  if (!modelAllowed(token, model)) {
    throw new PermissionError(`This API key may not use model ${model}`, {
      code: 'model_not_allowed',
      param: 'model',
    });
  }
}
