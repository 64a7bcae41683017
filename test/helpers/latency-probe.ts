/**
 * Measures how a gateway answers other requests while `work` runs: `GET url` one after another
 * (each bounded by `capMs`, an abandoned probe counts as `capMs`), during `work` and for `tailMs`
 * after it (work the gateway does after answering, such as counting tokens, shows there).
 */
export async function probeLatency<T>(
  url: string,
  work: () => Promise<T>,
  opts: { tailMs?: number; capMs?: number; headers?: Record<string, string> } = {},
): Promise<{ value: T; maxMs: number; probes: number }> {
  const capMs = opts.capMs ?? 5000;
  let done = false;
  let maxMs = 0;
  let probes = 0;
  const loop = (async () => {
    while (!done) {
      const started = performance.now();
      try {
        const res = await fetch(url, { headers: opts.headers, signal: AbortSignal.timeout(capMs) });
        await res.arrayBuffer();
      } catch {
        // A probe that timed out counts as capMs.
      }
      maxMs = Math.max(maxMs, Math.min(capMs, performance.now() - started));
      probes++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    const value = await work();
    await new Promise((resolve) => setTimeout(resolve, opts.tailMs ?? 1000));
    return { value, maxMs, probes };
  } finally {
    done = true;
    await loop;
  }
}
