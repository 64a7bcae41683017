import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { AppError } from '../errors/app.error.js';
import { BadRequestError } from '../errors/bad-request.error.js';
import { PayloadTooLargeError } from '../errors/payload-too-large.error.js';
import { UnsupportedMediaTypeError } from '../errors/unsupported-media-type.error.js';

/** How a JSON body is read: the most bytes, the deepest nesting, and the setting that names the limit. */
export interface JsonBodyLimits {
  maxBytes: number;
  maxDepth: number;
  /** The environment variable of `maxBytes`, named in the 413. */
  limitName: string;
}

const JSON_TYPE = /^application\/([\w.+-]+\+)?json\s*(;|$)/i;

/** True when the request carries a body (a length above 0, or a chunked one). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/**
 * Follows the nesting of arrays and objects in a JSON text as its bytes arrive, without parsing
 * (linear, no recursion, chunk by chunk so no single step holds the event loop): `push` returns
 * true once the depth passes `max`. String contents are skipped with native `indexOf` (the bulk
 * of a large prompt costs next to nothing); UTF-8 multi-byte characters never contain `"` or
 * `\`, so scanning bytes is exact.
 */
export class JsonDepthScanner {
  private depth = 0;
  private inString = false;
  /** The previous chunk ended on a backslash inside a string: skip this chunk's first byte. */
  private escaped = false;

  constructor(private readonly max: number) {}

  push(bytes: Uint8Array): boolean {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    let i = 0;
    if (this.escaped) {
      i = 1;
      this.escaped = false;
    }
    const n = buf.length;
    // The next backslash at or after i (n: none left); searched again only once passed, so a
    // chunk of many short strings costs one pass, not one per string.
    let slash = -1;
    while (i < n) {
      if (this.inString) {
        const quote = buf.indexOf(0x22, i);
        if (slash < i && slash !== n) {
          slash = buf.indexOf(0x5c, i);
          if (slash === -1) slash = n;
        }
        if (slash < n && (quote === -1 || slash < quote)) {
          if (slash + 1 >= n) {
            this.escaped = true;
            return false;
          }
          i = slash + 2;
          continue;
        }
        if (quote === -1) return false;
        this.inString = false;
        i = quote + 1;
        continue;
      }
      const b = buf[i++]!;
      if (b === 0x22) this.inString = true;
      else if (b === 0x5b || b === 0x7b) {
        if (++this.depth > this.max) return true;
      } else if (b === 0x5d || b === 0x7d) this.depth--;
    }
    return false;
  }
}

/** True when the nesting of arrays and objects in a JSON text passes `max` (see {@link JsonDepthScanner}). */
export function jsonDepthExceeds(bytes: Uint8Array, max: number): boolean {
  return new JsonDepthScanner(max).push(bytes);
}

/** The 413 for a body over `limits.maxBytes`; the connection is closed after it (see callers). */
export function bodyTooLarge(limits: JsonBodyLimits): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `The request body is larger than the ${limits.maxBytes} bytes this gateway accepts here (${limits.limitName})`,
  );
}

/** Refuses a body the gateway would not read: not JSON, or compressed. */
export function checkJsonHeaders(req: IncomingMessage, limits: JsonBodyLimits): void {
  const type = String(req.headers['content-type'] ?? '');
  if (!JSON_TYPE.test(type)) {
    throw new UnsupportedMediaTypeError(
      `Send a JSON body with Content-Type: application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'none'})`,
    );
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity')
    .trim()
    .toLowerCase();
  if (encoding !== 'identity' && encoding !== '') {
    throw new UnsupportedMediaTypeError(
      `Content-Encoding ${JSON.stringify(encoding.slice(0, 50))} is not accepted: send the JSON body uncompressed`,
    );
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limits.maxBytes) throw bodyTooLarge(limits);
}

/**
 * Reads a JSON body within `limits`: stops reading (without consuming the rest) as soon as it
 * passes `maxBytes`, refuses nesting deeper than `maxDepth` before parsing (deep nesting costs
 * the parser, and later every serializer, time and stack), and answers malformed JSON with 400.
 */
export function readJsonBody(
  req: IncomingMessage,
  limits: JsonBodyLimits,
): Promise<{ json: unknown; bytes: number }> {
  try {
    checkJsonHeaders(req, limits);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const scanner = new JsonDepthScanner(limits.maxDepth);
    let size = 0;
    let failed = false;
    const stop = (err: AppError) => {
      failed = true;
      req.off('data', onData);
      req.pause();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limits.maxBytes) return stop(bodyTooLarge(limits));
      // Refused as soon as the nesting passes the limit: the rest of the body is never read.
      if (scanner.push(chunk)) return stop(tooDeep(limits));
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', (err) => {
      if (failed) return;
      failed = true;
      reject(new BadRequestError(`The request body could not be read: ${err.message}`, { code: 'aborted' }));
    });
    req.on('end', () => {
      if (failed) return;
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      try {
        resolve({ json: JSON.parse(buf.toString('utf8')), bytes: size });
      } catch (err) {
        reject(
          new BadRequestError(`Malformed JSON body: ${(err as Error).message.slice(0, 200)}`, {
            code: 'invalid_json',
          }),
        );
      }
    });
  });
}

function tooDeep(limits: JsonBodyLimits): BadRequestError {
  return new BadRequestError(
    `The JSON body is nested deeper than ${limits.maxDepth} levels of arrays and objects (MAX_JSON_DEPTH)`,
    { code: 'json_too_deep' },
  );
}

const BODY_READ = Symbol('switchyard.bodyRead');

/**
 * The admin API's body parser, mounted after authentication so an unauthenticated client never
 * gets its body read. A write with a body must be JSON (415 otherwise); a request without a body
 * leaves `req.body` undefined. Past the size limit it answers 413 and closes the connection
 * instead of reading the rest.
 */
export function jsonBodyParser(limits: JsonBodyLimits) {
  return (req: Request, res: Response, next: NextFunction) => {
    // Mounted twice on some paths (before and after authentication): a body is read once.
    if (BODY_READ in req) {
      next();
      return;
    }
    (req as unknown as Record<symbol, boolean>)[BODY_READ] = true;
    if (!hasBody(req) || req.method === 'GET' || req.method === 'HEAD') {
      // A GET's body is never read: drained so the connection stays usable.
      if (hasBody(req)) req.resume();
      next();
      return;
    }
    readJsonBody(req, limits).then(
      ({ json }) => {
        req.body = json;
        next();
      },
      (err: unknown) => {
        if (err instanceof PayloadTooLargeError || err instanceof UnsupportedMediaTypeError)
          closeIfBodyUnread(res);
        next(err);
      },
    );
  };
}

/**
 * An error answered before the request's body was read (a 401, 413, 415, 429…) closes the
 * connection: otherwise node would read and discard the rest of the body, however large, to
 * reach the next request on it.
 */
export function closeIfBodyUnread(res: ServerResponse): void {
  const req = res.req;
  if (res.headersSent || !req || !hasBody(req) || req.complete) return;
  res.setHeader('connection', 'close');
  lingerBeforeClose(res);
}

/** How long a closing connection keeps reading (and dropping) what its client still sends. */
const LINGER_MS = 2000;

/**
 * A lingering close, as nginx does it: closing a socket whose client is still sending resets it
 * (TCP RST), and the client may then lose the answer it was about to read. So once the answer
 * is out, the socket is half-closed and the rest of the body is read and dropped, for at most
 * {@link LINGER_MS}, before the socket is destroyed.
 */
function lingerBeforeClose(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  // Node ends a `connection: close` answer with socket.destroySoon() once the answer is written.
  socket.destroySoon = function (this: typeof socket) {
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    this.once('end', () => this.destroy());
    this.on('data', () => {});
    this.resume();
  };
}
