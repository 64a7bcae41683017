/** The console's client of the gateway's admin API (same origin, session cookie + CSRF header). */

export interface User {
  id: number;
  username: string;
  role: 'root' | 'admin' | 'user';
  group: string;
}

/** An API error: the gateway's OpenAI-shaped `{error:{message,type,param,code}}` plus the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null,
    readonly param: string | null,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

/** Set by sign-in and `GET /api/auth/me`; sent as `x-csrf-token` on every write. */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when the session is gone (401), so the app shows the sign-in page. */
let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { query?: Query; quiet401?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(withQuery(path, opts.query), {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: { error?: { message?: unknown; code?: string; param?: string } } | undefined = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: reported below with the status
  }
  if (!res.ok) {
    const e = json?.error;
    // A 401 means the session has ended, except `invalid_credentials`: a password in the request
    // was wrong (the current one, when changing one's own), and the session goes on.
    if (res.status === 401 && !opts.quiet401 && e?.code !== 'invalid_credentials') onUnauthorized();
    throw new ApiError(
      res.status,
      typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`,
      e?.code ?? null,
      e?.param ?? null,
    );
  }
  return json as T;
}

export const get = <T = unknown>(path: string, query?: Query) => api<T>('GET', path, undefined, { query });
export const post = <T = unknown>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T = unknown>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const put = <T = unknown>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = (path: string) => api<void>('DELETE', path);

/** A list answer of the admin API. */
export interface Page<T> {
  data: T[];
  total: number;
}
