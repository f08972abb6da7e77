// The library API (src/index.ts) offers what the CLI does: one import reaches each command's function.
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';

describe('the library API', () => {
  it("exports a function for each command's work", () => {
    const needed = [
      'Duplicates', // dup, undup, start, stop, status
      'Vms', // vm create, ls, rm, diff, run, ps, trace
      'fleetUp',
      'fleetDown',
      'fleetPs',
      'readFleet',
      'analyzeTarget', // analyze
      'analyzeAll',
      'verifyService', // analyze --verify
      'traceService', // analyze --trace
      'listServices', // services
      'startUi', // ui
      'explainBindConflict',
      'composeVmRules',
      'createBackend',
    ] as const;
    for (const name of needed) expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
  });
});
