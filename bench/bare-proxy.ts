import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The floor for any Node relay: a keep-alive pass-through proxy that parses nothing. Every
 * request goes to UPSTREAM (host:port) with its path and body piped as they are.
 */
const [host, port] = (process.argv[2] ?? '127.0.0.1:9100').split(':') as [string, string];
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host, port: Number(port), path: req.url, method: req.method, headers: req.headers, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    res.statusCode = 502;
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
