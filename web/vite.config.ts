/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by `engage serve` at `/`, with the API on the same origin.
// In development, Vite forwards the server's own paths to a local `engage serve`
// (another one with CONSOLE_API_TARGET=http://127.0.0.1:18080 npm run dev).
const backend = process.env.CONSOLE_API_TARGET ?? 'http://127.0.0.1:8080';
const serverPaths = ['/api', '/health', '/openapi.json', '/metrics', '/u', '/docs'];

export default defineConfig({
  base: '/',
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(serverPaths.map((path) => [path, { target: backend }])),
  },
  build: {
    outDir: 'dist',
    // Maps for debugging, not referenced from the files (engage embeds no `.map`).
    sourcemap: 'hidden',
  },
  test: {
    environment: 'jsdom',
    // The Playwright specs in e2e/ run against a real server (`npm run e2e`).
    include: ['src/**/*.test.{ts,tsx}'],
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    css: { modules: { classNameStrategy: 'non-scoped' } },
    restoreMocks: true,
  },
});
