/** Options every {@link AppError} takes. */
export interface AppErrorOptions {
  param?: string | null;
  code?: string | null;
  cause?: unknown;
  /** Headers the answer carries (Retry-After, rate-limit headers). */
  headers?: Record<string, string>;
}

/**
 * The base of every error Switchyard reports on purpose. It carries the HTTP status and the
 * OpenAI-shaped `type` and `code` that clients see in `{"error":{message,type,param,code}}`.
 */
export class AppError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string | null;
  readonly param: string | null;
  readonly headers: Record<string, string>;

  constructor(status: number, type: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.type = type;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }
}
