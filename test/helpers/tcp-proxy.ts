import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, so a test can take that server away from
 * the nodes behind the proxy (and only from them): `pause()` drops every connection and
 * refuses new ones, `resume()` lets them through again. `hang()` keeps every connection open
 * (and accepts new ones) but stops passing bytes either way, as a server that stopped
 * answering; `unhang()` passes what was held back, in order.
 */
export interface TcpProxy {
  port: number;
  pause(): void;
  resume(): void;
  hang(): void;
  unhang(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let paused = false;
  let hung = false;
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    if (!hung) {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pause = () => {
    paused = true;
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    pairs.clear();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    pause,
    resume() {
      paused = false;
    },
    hang() {
      hung = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    unhang() {
      hung = false;
      for (const [a, b] of pairs) {
        a.pipe(b);
        b.pipe(a);
      }
    },
    async close() {
      pause();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
