import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino replaces with "[redacted]" wherever they appear: authorization headers, channel
 * upstream keys, token keys. Components log objects first and may pass whole entities; these
 * paths are the safety net that keeps secrets out of the log.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'authorization',
  'key',
  'apiKey',
  'api_key',
  'secret',
  'password',
  '*.key',
  '*.apiKey',
  '*.api_key',
  '*.authorization',
  '*.headers.authorization',
  '*.secret',
  // The console's credentials: session cookie, CSRF token, passwords, sign-in tokens.
  'req.headers.cookie',
  'headers.cookie',
  'headers["x-csrf-token"]',
  'cookie',
  'current_password',
  'access_token',
  'csrf_token',
  '*.password',
  '*.current_password',
  '*.access_token',
  '*.csrf_token',
];

/** Builds the process's root logger; every component takes `logger.child({ component })`. */
export function createLogger(opts: {
  level: string;
  pretty: boolean;
  base?: Record<string, unknown>;
}): Logger {
  const options: LoggerOptions = {
    level: opts.level,
    base: opts.base ?? {},
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (opts.pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}
