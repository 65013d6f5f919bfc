// Build, dev server and unit-test settings of the web UI (docs/web.md).
//
// `npm run dev` serves the app with hot reload and forwards /api (JSON and
// the SSE stream) to a running gateway at MERKAZIA_HTTP_LISTEN, the same
// variable the gateway binds, so one setting points both at each other.
// `npm run build` writes web/dist, which the gateway serves at /.
// `npm test` runs Vitest in jsdom with the same React plugin as the app.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

const listen = process.env.MERKAZIA_HTTP_LISTEN ?? '127.0.0.1:8080';
const gateway = /^https?:\/\//.test(listen) ? listen : `http://${listen}`;

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    // One small vendor chunk for React, so app changes keep it cached.
    rollupOptions: {
      output: {
        manualChunks: { react: ['react', 'react-dom'] },
      },
    },
  },
  server: {
    proxy: {
      // SSE passes through http-proxy unbuffered; keep the connection open.
      '/api': { target: gateway, changeOrigin: false, ws: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
    setupFiles: ['test/setup.ts'],
    css: false,
    restoreMocks: true,
  },
});
