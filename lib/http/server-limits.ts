import http from 'node:http';
import type { Socket } from 'node:net';
import type { Metrics } from '../obs/metrics.js';

/** The limits a client meets before its request reaches a handler (see docs/hardening.md). */
export interface ServerLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/**
 * The gateway's HTTP server, with client-side limits node leaves off or too loose by default:
 * a client that sends its headers or body too slowly gets 408 and is closed (answers, streams
 * included, are never limited by these: node only times the request while it is incomplete), an
 * idle keep-alive connection closes after `keepAliveTimeoutMs`, and connections beyond
 * `maxConnections` are closed on arrival and counted.
 */
export function createLimitedServer(
  limits: ServerLimits,
  metrics: Metrics,
  handler: http.RequestListener,
): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often node checks the two timeouts above; its default (30 s) would let a slow client
      // hold a socket up to 30 s past them.
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    handler,
  );
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => metrics.httpConnectionsRefused.inc());
  server.on('connection', (socket: Socket) => {
    metrics.httpConnectionsOpen.inc();
    socket.once('close', () => metrics.httpConnectionsOpen.dec());
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') metrics.httpRequestsTimedOut.inc();
    // An answer already under way on this socket cannot take a status line in its middle.
    const answering = (socket as Socket & { _httpMessage?: http.ServerResponse })._httpMessage;
    if (!socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    socket.destroySoon();
  });
  return server;
}
