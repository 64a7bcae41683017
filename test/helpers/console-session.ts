import type { JsonAnswer } from './http.js';

/** A signed-in console browser, as far as the API sees it: the session cookie and CSRF token. */
export interface ConsoleSession {
  cookie: string;
  csrf: string;
  user: { id: number; username: string; role: string; group: string };
  /** The raw Set-Cookie header of the sign-in. */
  setCookie: string;
  /** Calls the API with the cookie (and, unless `csrf: false`, the CSRF token). */
  call(
    method: string,
    path: string,
    body?: unknown,
    opts?: { csrf?: string | false; headers?: Record<string, string> },
  ): Promise<JsonAnswer>;
}

async function answer(res: Response): Promise<JsonAnswer> {
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** POSTs a sign-in body to `/api/auth/login`. */
export async function postLogin(
  baseUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  const res = await fetch(`${baseUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return answer(res);
}

/** Calls the API with a session cookie only (no bearer token). */
export async function callWithCookie(
  baseUrl: string,
  cookie: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<JsonAnswer> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      cookie: `sy_session=${cookie}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(res);
}

/** The session cookie's value in a Set-Cookie header. */
export function sessionCookieFrom(setCookie: string): string {
  const m = /(?:^|,\s*)sy_session=([^;]*)/.exec(setCookie);
  if (!m) throw new Error(`no sy_session cookie in: ${setCookie}`);
  return m[1]!;
}

/** Signs in (username + password, or an access token) and returns the session; throws unless 200. */
export async function signIn(
  baseUrl: string,
  body: { username: string; password: string } | { access_token: string },
): Promise<ConsoleSession> {
  const r = await postLogin(baseUrl, body);
  if (r.status !== 200) throw new Error(`sign-in failed: ${r.status} ${JSON.stringify(r.body)}`);
  const setCookie = r.headers.getSetCookie().join(', ');
  const cookie = sessionCookieFrom(setCookie);
  const csrf = String(r.body.csrf_token);
  return {
    cookie,
    csrf,
    user: r.body.user,
    setCookie,
    call: (method, path, body, opts = {}) =>
      callWithCookie(baseUrl, cookie, method, path, body, {
        ...(opts.csrf === false ? {} : { 'x-csrf-token': opts.csrf ?? csrf }),
        ...opts.headers,
      }),
  };
}
