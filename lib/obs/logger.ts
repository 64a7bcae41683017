import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** What a redacted value is replaced with. */
export const CENSOR = '[redacted]';

/**
 * Paths pino replaces with "[redacted]" wherever they appear: authorization headers, channel
 * upstream keys, token keys. Components log objects first and may pass whole entities; these
 * paths and {@link SECRET_FIELDS} are the safety net that keeps secrets out of the log.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  // The console's credentials: session cookie, CSRF token.
  'req.headers.cookie',
  'headers.cookie',
  'headers["x-csrf-token"]',
];

/**
 * Field names redacted at the top of a log object and one level down under any key (what the
 * redact paths `key` and `*.key` say), and in `headers` one level further down (`*.headers.authorization`):
 * keys, secrets, the console's passwords, session cookie and sign-in tokens. Done by a log
 * formatter instead of pino's wildcard paths (`*.key`), which ran a redactor on every field of
 * every line: about a tenth of a relayed request's CPU went to the access log's redaction.
 */
export const SECRET_FIELDS: ReadonlySet<string> = new Set([
  'authorization',
  'key',
  'apiKey',
  'api_key',
  'secret',
  'password',
  'cookie',
  'current_password',
  'access_token',
  'csrf_token',
]);

/** Headers redacted wherever a `headers` object is logged. */
const SECRET_HEADERS = ['authorization', 'x-api-key', 'cookie', 'x-csrf-token'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** True when `value` holds a field {@link censorNested} would replace. */
function holdsSecret(value: Record<string, unknown>): boolean {
  for (const name of SECRET_FIELDS) if (value[name] !== undefined) return true;
  const headers = value.headers;
  return isObject(headers) && SECRET_HEADERS.some((h) => headers[h] !== undefined);
}

/**
 * A copy of `value` with its secret fields replaced. An Error keeps its class and its own
 * fields (message, stack, cause), so pino's error serializer shows it as before.
 */
function censorNested(value: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = Array.isArray(value)
    ? Object.assign([], value)
    : value instanceof Error
      ? Object.create(Object.getPrototypeOf(value) as object, Object.getOwnPropertyDescriptors(value))
      : { ...value };
  for (const field of SECRET_FIELDS) if (copy[field] !== undefined) put(copy, field, CENSOR);
  const headers = copy.headers;
  if (isObject(headers) && SECRET_HEADERS.some((h) => headers[h] !== undefined)) {
    const h = { ...headers };
    for (const field of SECRET_HEADERS) if (h[field] !== undefined) h[field] = CENSOR;
    put(copy, 'headers', h);
  }
  return copy;
}

/** Sets a field of a copy even where the original had a getter or a read-only field there (an Error's own). */
function put(target: Record<string, unknown>, field: string, value: unknown): void {
  Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * What is logged when a log object cannot be read through (a getter that throws, say): its plain
 * top-level values that are not secrets, and a flag. A log call never throws.
 */
function unreadableLog(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { log_redaction_failed: true };
  for (const name of Object.keys(obj)) {
    if (SECRET_FIELDS.has(name)) continue;
    try {
      const value = obj[name];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
        out[name] = value;
    } catch {
      // a getter that throws: left out
    }
  }
  return out;
}

/**
 * Replaces {@link SECRET_FIELDS} at the top of a log object and one level down (see there),
 * without touching the caller's object: only what changes is copied, and a line without
 * secrets (nearly all of them) is returned as it is, after one look at each field.
 */
export function redactSecrets<T extends Record<string, unknown>>(obj: T): T {
  try {
    let out: Record<string, unknown> | undefined;
    for (const name in obj) {
      if (!Object.prototype.hasOwnProperty.call(obj, name)) continue;
      const value = obj[name];
      let replaced: unknown = value;
      if (SECRET_FIELDS.has(name)) {
        if (value === undefined) continue;
        replaced = CENSOR;
      } else if (isObject(value) && holdsSecret(value)) replaced = censorNested(value);
      else continue;
      out ??= { ...obj };
      out[name] = replaced;
    }
    return (out ?? obj) as T;
  } catch {
    return unreadableLog(obj) as T;
  }
}

/** Builds the process's root logger; every component takes `logger.child({ component })`. */
export function createLogger(opts: {
  level: string;
  pretty: boolean;
  base?: Record<string, unknown>;
  /** Where lines go (tests); stdout by default. */
  destination?: DestinationStream;
}): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: opts.base ?? {},
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: { log: redactSecrets, bindings: redactSecrets },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const logger = opts.pretty
    ? pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } })
    : opts.destination
      ? pino(options, opts.destination)
      : pino(options);
  // pino gives a child's bindings no formatter: they are redacted on the way in. Children are
  // made from their parent (Object.create), so every descendant inherits this `child`.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings), childOptions);
  } as typeof child;
  return logger;
}
