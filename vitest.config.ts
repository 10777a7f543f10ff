import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup-env.ts'],
    // Bundling every function with esbuild is the slowest part of the suite.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // npm test runs with --coverage: what the functions do is covered, or the suite fails.
    coverage: {
      provider: 'v8',
      include: ['functions/**/*.ts'],
      // The one-line entry files are run as Lambda runs them, bundled, in test/build.
      exclude: ['local/**', 'test/**', 'functions/**/handler.ts'],
      reporter: ['text-summary', 'html'],
      thresholds: { statements: 90, branches: 90 },
    },
  },
});
