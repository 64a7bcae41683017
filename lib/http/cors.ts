import type { IncomingMessage, ServerResponse } from 'node:http';

/** Headers a browser client of /v1 may send, and the answer headers it may read. */
const ALLOWED_HEADERS =
  'authorization, content-type, x-api-key, x-request-id, openai-organization, openai-project, openai-beta, ' +
  'anthropic-version, anthropic-beta';
const EXPOSED_HEADERS =
  'x-request-id, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, ' +
  'x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, retry-after';

/**
 * CORS for browser clients of `/v1` (CORS_ORIGINS). Keys travel in the Authorization header, so
 * credentials (cookies) are never allowed, with `*` or with a list.
 */
export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;

  constructor(origins: string[]) {
    this.any = origins.includes('*');
    this.origins = new Set(origins.filter((o) => o !== '*').map((o) => o.toLowerCase()));
  }

  get enabled(): boolean {
    return this.any || this.origins.size > 0;
  }

  /** The Access-Control-Allow-Origin value for `origin`, or undefined when it is not allowed. */
  private allowed(origin: string | undefined): string | undefined {
    if (!origin || !this.enabled) return undefined;
    if (this.any) return '*';
    return this.origins.has(origin.toLowerCase()) ? origin : undefined;
  }

  /** Adds the CORS headers of an ordinary answer. */
  apply(req: IncomingMessage, res: ServerResponse): void {
    if (!this.enabled) return;
    res.setHeader('vary', 'Origin');
    const allow = this.allowed(req.headers.origin);
    if (!allow) return;
    res.setHeader('access-control-allow-origin', allow);
    res.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
  }

  /**
   * Answers a preflight (`OPTIONS` with Access-Control-Request-Method); returns false when the
   * request is not one. An origin that is not allowed gets 403 and no CORS headers.
   */
  preflight(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'OPTIONS' || !req.headers['access-control-request-method'] || !this.enabled)
      return false;
    res.setHeader('vary', 'Origin');
    const allow = this.allowed(req.headers.origin);
    if (!allow) {
      res.statusCode = 403;
      res.end();
      return true;
    }
    res.statusCode = 204;
    res.setHeader('access-control-allow-origin', allow);
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
    res.setHeader('access-control-max-age', '600');
    res.end();
    return true;
  }
}
