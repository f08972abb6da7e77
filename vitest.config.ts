import { defineConfig } from 'vitest/config';

// Two lanes, chosen by file name. `unit`: test/**/*-unit.test.ts, pure tests (planner,
// policy and name parsing, the analyzer over files, the journal with its own child
// processes, the layer order) that never start Wine; their files run in parallel:
// `npx vitest run --project unit`. `wine`: every other test file, integration tests that
// drive real Wine processes; their global setup makes the Wine template every test prefix is
// cloned from and rebuilds dist/ (the CLI they run). Those are slow to start and share two
// cores, so their files run one at a time with generous timeouts.
const unit = ['test/**/*-unit.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 240_000,
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      {
        extends: true,
        test: {
          name: 'wine',
          include: ['test/**/*.test.ts'],
          exclude: unit,
          fileParallelism: false,
          globalSetup: ['test/build-setup.ts', 'test/global-setup.ts'],
        },
      },
    ],
  },
});
