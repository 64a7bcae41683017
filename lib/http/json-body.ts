import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
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
 * The deepest nesting of arrays and objects in a JSON text, counted on its bytes without parsing
 * (linear, no recursion), stopping as soon as it passes `max`. Bytes inside strings are skipped;
 * UTF-8 multi-byte characters never contain `"` or `\`, so scanning bytes is exact.
 */
export function jsonDepthExceeds(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
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
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limits.maxBytes) {
        failed = true;
        req.off('data', onData);
        req.pause();
        reject(bodyTooLarge(limits));
        return;
      }
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
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (jsonDepthExceeds(buf, limits.maxDepth)) {
        reject(
          new BadRequestError(
            `The JSON body is nested deeper than ${limits.maxDepth} levels of arrays and objects (MAX_JSON_DEPTH)`,
            { code: 'json_too_deep' },
          ),
        );
        return;
      }
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
          res.setHeader('connection', 'close');
        next(err);
      },
    );
  };
}
