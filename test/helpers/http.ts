/** An API answer as tests read it: status, parsed JSON body (if any), headers. */
export interface JsonAnswer {
  status: number;
  body: any;
  headers: Headers;
}

/** Calls `baseUrl + path` with a bearer token and an optional JSON body; parses the JSON answer. */
export async function callJson(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<JsonAnswer> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
