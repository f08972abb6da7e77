import { defineConfig } from 'vitest/config';

// Two projects. `unit`: pure tests (planner, policy and name parsing, analyzer over files,
// the journal with its own child processes); they never start Wine: `npx vitest run
// --project unit`. `wine`: integration tests that drive real Wine processes; their global
// setup makes the Wine template every test prefix is cloned from and rebuilds dist/ (the
// CLI they run). Those are slow to start and share two cores, so files run one at a time
// with generous timeouts.
const unit = [
  'test/plan.test.ts',
  'test/journal.test.ts',
  'test/vm.test.ts',
  'test/net-unit.test.ts',
  'test/analyze-unit.test.ts',
  'test/analyze.test.ts',
  'test/analyze-malformed.test.ts',
  'test/snapshot-unit.test.ts',
  'test/archive-unit.test.ts',
  'test/commit-unit.test.ts',
  'test/direct-unit.test.ts',
  'test/fleet-unit.test.ts',
];

export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      { extends: true, test: { name: 'wine', include: ['test/**/*.test.ts'], exclude: unit, globalSetup: ['test/build-setup.ts', 'test/global-setup.ts'] } },
    ],
  },
});
