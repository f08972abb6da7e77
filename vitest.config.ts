import { basename } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// Three lanes, chosen by file name, run in this order (sequence.groupOrder).
// `unit`: test/**/*-unit.test.ts, pure tests (planner, policy and name parsing, the analyzer
// over files, the journal with its own child processes, the layer order) that never start
// Wine; their files run in parallel: `npx vitest run --project unit`.
// The Wine lanes (`npx vitest run --project 'wine-*'`): integration tests that drive real
// Wine processes; their global setup rebuilds dist/ (the CLI they run) and makes the Wine
// template every test prefix is cloned from, once, before any Wine file starts.
// `wine-pairs`: the files listed below, two at a time. A Wine file keeps 2 cores ~2/3 busy
// (it waits on Wine's process starts, pipes and polls), so two at once finish sooner. Each
// file has its own svcdup home, prefix and wineserver (named by worker pid, test/helpers.ts),
// its own copy of the native build (a direct duplicate writes IMAGE@VM.exe beside its image),
// cgroups keyed by its home, temp folders from mkdtemp, etcd and servers on free ports,
// process checks limited to its own prefix. VM addresses repeat between homes (each starts at
// 127.77.0.2), so a file's fixed TCP/UDP ports are its own: no two Wine files use one port
// (grep test/*.test.ts for a number before taking one).
// `wine-alone`: every other Wine file, one at a time, after the pairs: those whose test
// checks a wall-clock window a loaded neighbour can break (vm-wine: Global holders' 15 s
// window; direct: STOPPED within a second; ui: a change shown within a second), and any
// new file until it is checked for the above and added to the list (the safe default).
const unit = ['test/**/*-unit.test.ts'];
const pairs = [
  'dup',
  'cluster',
  'concurrency',
  'ops-restart',
  'crash',
  'pg-portable',
  'badinput',
  'portable',
  'ops',
  'pg',
  'cli-corpus',
  'net-dup',
  'analyze-outcome',
  'fleet',
  'state-wine',
  'snapshot-wine',
  'analyze-trace',
  'com',
  'escape',
  'files-wine',
  'scmclient',
  'net',
  'regcow',
  'token',
  'agent',
  'cluster-etcd',
  'cli',
  'rules-wine',
  'prefix',
  'hook',
  'analyze-wine',
].map((f) => `test/${f}.test.ts`);

/** The pairs start slowest first (the order above, by their serial times), so no long file starts last beside an idle worker. */
class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = pairs.indexOf(`test/${basename(f.moduleId)}`);
      return i < 0 ? pairs.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

const wine = { hookTimeout: 240_000, globalSetup: ['test/build-setup.ts', 'test/global-setup.ts'] };

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 240_000,
    // vitest reads the sequencer from here only; it is called once per lane
    sequence: { sequencer: SlowestFirst },
    projects: [
      { extends: true, test: { name: 'unit', include: unit, sequence: { groupOrder: 0 } } },
      {
        extends: true,
        test: { ...wine, name: 'wine-pairs', include: pairs, maxWorkers: 2, sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { ...wine, name: 'wine-alone', include: ['test/**/*.test.ts'], exclude: [...unit, ...pairs], maxWorkers: 1, sequence: { groupOrder: 2 } },
      },
    ],
  },
});
