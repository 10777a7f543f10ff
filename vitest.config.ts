import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup-env.ts'],
    // Bundling every function with esbuild is the slowest part of the suite.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
