import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // A synth takes a few seconds on a 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
