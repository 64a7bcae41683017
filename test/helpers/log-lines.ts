import { pino, type Logger } from 'pino';

/** A logger whose lines a test can read: each line parsed, and all of them as written. */
export interface LogLines {
  logger: Logger;
  lines: Record<string, unknown>[];
  /** Every line as the gateway wrote it (what an operator's log would hold). */
  text(): string;
}

export function logLines(level = 'info'): LogLines {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level },
    {
      write(line: string) {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines, text: () => raw.join('') };
}
