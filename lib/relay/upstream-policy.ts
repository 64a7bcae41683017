import dns from 'node:dns';
import net, { BlockList } from 'node:net';
import os from 'node:os';
import { buildConnector } from 'undici';
import { ConfigError } from '../errors/config.error.js';

/**
 * Which addresses the gateway may call upstream (relay, channel tests, model lists), checked on
 * the address a connection actually goes to (after DNS), so a name that resolves to an internal
 * address, or a redirect of DNS between check and use, cannot get around it.
 *
 * - `denyPrivate`: refuse loopback, private (RFC 1918, fc00::/7), link-local (169.254/16, the
 *   cloud metadata address, fe80::/10), CGNAT, unspecified, multicast and reserved addresses,
 *   unless `allow` holds them.
 * - The gateway's own port on a local address is always refused: it never calls itself.
 */
export interface UpstreamPolicyOptions {
  denyPrivate: boolean;
  /** CIDRs (or single addresses) always allowed, e.g. a LAN model server with denyPrivate on. */
  allow: string[];
}

/** A connection the policy refused; classified as a connect failure. */
export class UpstreamAddressDeniedError extends Error {
  readonly code = 'EUPSTREAMDENIED';
  constructor(address: string, why: string) {
    super(`upstream address ${address} refused: ${why}`);
    this.name = 'UpstreamAddressDeniedError';
  }
}

const PRIVATE_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const PRIVATE_V6 = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['64:ff9b::', 96],
] as const;

/** Parses `a.b.c.d/n`, `x::/n` or a single address into a BlockList. */
export function parseCidrList(items: string[]): BlockList {
  const list = new BlockList();
  for (const raw of items) {
    const item = raw.trim();
    if (!item) continue;
    const [addr = '', bits] = item.split('/');
    const family = net.isIP(addr);
    if (!family) throw new ConfigError(`UPSTREAM_ALLOW: not an IP address or CIDR: ${item}`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

export class UpstreamPolicy {
  private readonly privateList = new BlockList();
  private readonly allow: BlockList;
  /** The port this gateway listens on, once it does. */
  selfPort: number | undefined;

  constructor(private readonly opts: UpstreamPolicyOptions) {
    for (const [a, n] of PRIVATE_V4) this.privateList.addSubnet(a, n, 'ipv4');
    for (const [a, n] of PRIVATE_V6) this.privateList.addSubnet(a, n, 'ipv6');
    this.allow = parseCidrList(opts.allow);
  }

  /** Why a connection to `address:port` is refused, or undefined when it is allowed. */
  refusal(address: string, port: number): string | undefined {
    const ip = unmapped(address);
    const type = net.isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (this.selfPort !== undefined && port === this.selfPort && isLocal(ip)) {
      return 'it is this gateway (a channel must never point at the gateway itself)';
    }
    if (this.allow.check(ip, type)) return undefined;
    if (this.opts.denyPrivate && this.privateList.check(ip, type)) {
      return 'a private, loopback or link-local address (UPSTREAM_DENY_PRIVATE=true; allow it with UPSTREAM_ALLOW)';
    }
    return undefined;
  }

  /**
   * undici's `connect` option: resolves the host itself, checks every address, and connects to
   * the address it checked (TLS still verifies the certificate against the host's name).
   */
  connector(timeoutMs: number): buildConnector.connector {
    const base = buildConnector({ timeout: timeoutMs });
    return (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
      const connect = (address: string) => {
        const why = this.refusal(address, port);
        if (why) callback(new UpstreamAddressDeniedError(address, why), null);
        else base({ ...opts, hostname: address }, callback);
      };
      if (net.isIP(host)) {
        connect(host);
        return;
      }
      dns.lookup(host, { all: true }, (err, addresses) => {
        if (err) return callback(err, null);
        for (const a of addresses) {
          const why = this.refusal(a.address, port);
          if (why) return callback(new UpstreamAddressDeniedError(a.address, why), null);
        }
        const first = addresses[0];
        if (!first)
          return callback(Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' }), null);
        connect(first.address);
      });
    };
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

function isLocal(ip: string): boolean {
  if (ip === '::1' || ip === '::' || ip === '0.0.0.0' || ip.startsWith('127.')) return true;
  for (const list of Object.values(os.networkInterfaces()))
    for (const i of list ?? []) if (unmapped(i.address) === ip) return true;
  return false;
}
