import net from 'node:net';

/** A raw TCP client: what it received, and when the server closed it. */
export interface RawClient {
  socket: net.Socket;
  received(): string;
  /** Resolves with ms since connect when the server closes the socket, or 'open' after `timeoutMs`. */
  closed(timeoutMs: number): Promise<number | 'open'>;
  /** Writes `text` a piece at a time, one every `everyMs`, until the socket closes or all is sent. */
  dribble(text: string, everyMs: number): Promise<void>;
}

export async function rawConnect(url: string): Promise<RawClient> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  const started = performance.now();
  let data = '';
  let closedAt: number | undefined;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  const closing = new Promise<number>((resolve) =>
    socket.once('close', () => resolve((closedAt = performance.now() - started))),
  );
  return {
    socket,
    received: () => data,
    async closed(timeoutMs) {
      if (closedAt !== undefined) return closedAt;
      let timer: NodeJS.Timeout | undefined;
      const open = new Promise<'open'>((resolve) => (timer = setTimeout(() => resolve('open'), timeoutMs)));
      try {
        return await Promise.race([closing, open]);
      } finally {
        clearTimeout(timer);
      }
    },
    async dribble(text, everyMs) {
      for (const ch of text) {
        if (socket.destroyed || closedAt !== undefined) return;
        socket.write(ch);
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    },
  };
}
