import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is built into web/dist, which the gateway serves at `/` (same origin as /api and /v1).
// `npm run dev:web` serves it with hot reload and sends API calls to a gateway on GATEWAY_URL.
const gateway = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Chunks above this (minified, before gzip) are reported by the build.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': gateway, '/v1': gateway, '/admin': gateway },
  },
});
