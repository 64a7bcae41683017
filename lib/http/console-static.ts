import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type Response } from 'express';

/**
 * The Content-Security-Policy of the console's pages: everything from this origin only (no CDN,
 * no inline script, no framing by other sites).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths that are never the console's, even when nothing else answered them. */
const NOT_CONSOLE = /^\/(api|v1|admin|healthz|readyz|metrics)(\/|$)/;

/** A file name with a content hash (Vite's `name-[hash].ext`): never changes, cached for a year. */
const HASHED = /[.-][A-Za-z0-9_-]{8,}\.(js|mjs|css|woff2?|ttf|svg|png|jpg|webp|ico|map)$/;

/** The package's root folder (the one with package.json), from lib/ under tsx or dist/lib/ when built. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
}

function securityHeaders(res: Response): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
}

/**
 * Serves the built web console from `distDir` (default `web/dist` in the package) at `/`: its
 * files, and `index.html` for any other GET of a path that is not the API's, so the console's
 * own routes (/channels, /logs/12) load it too. Hashed assets are cached for a year,
 * `index.html` never without revalidation. Without a build, `/` says how to make one.
 */
export function consoleStatic(distDir = path.join(packageRoot(), 'web', 'dist')): Router {
  const router = Router();
  const index = path.join(distDir, 'index.html');
  const assets = express.static(distDir, {
    index: false,
    redirect: false,
    setHeaders: (res, file) => {
      securityHeaders(res);
      res.setHeader(
        'cache-control',
        HASHED.test(path.basename(file)) ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  });
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || NOT_CONSOLE.test(req.path)) return next();
    assets(req, res, () => {
      securityHeaders(res);
      res.setHeader('cache-control', 'no-cache');
      if (!fs.existsSync(index)) {
        res
          .status(200)
          .type('text/plain')
          .send(
            'Switchyard is running, but its web console is not built: run `npm run build` (it writes web/dist), then reload this page. The API is at /api, the relay at /v1.\n',
          );
        return;
      }
      // A missing asset is a 404, not the page: a stale tab must not load HTML as a script.
      if (req.path.startsWith('/assets/')) return next();
      res.sendFile(index, { cacheControl: false, lastModified: false });
    });
  });
  return router;
}
