import { defineConfig } from 'vitest/config';

// Integration tests drive real Wine processes: they are slow to start and share
// two cores, so files run one at a time and get generous timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
