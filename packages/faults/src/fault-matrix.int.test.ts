/**
 * The short fault matrix in CI: every fault of issue #11 on the matrix's own PostgreSQL and
 * Kafka (never the shared test stack, which other files use while these servers are killed),
 * with `tributary capture` and `tributary project` as separate processes under concurrent
 * writers. Each fault must end with every committed event in Kafka once and in the read
 * model once, per-aggregate order kept and no rolled-back event visible. `npm run
 * test:faults` runs the same matrix and prints the table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultStack, type FaultStack } from './harness/fault-stack.js';
import {
  startPipeline,
  type Pipeline,
  type ScenarioResult,
  type ScenarioSettings,
} from './harness/pipeline.js';
import { matrixFaults } from './matrix/faults.js';
import { formatTable, SHORT_SETTINGS, SHORT_TIMINGS } from './matrix/run-matrix.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const log = (message: string): void => {
  process.stderr.write(`[fault matrix] ${message}\n`);
};
const settings: ScenarioSettings = {
  ...SHORT_SETTINGS,
  logDir: mkdtempSync(join(tmpdir(), 'tributary-faults-')),
};
const results: ScenarioResult[] = [];
let stack: FaultStack | undefined;
let pipeline: Pipeline;

beforeAll(async () => {
  stack = await startFaultStack(log);
  pipeline = await startPipeline(stack, settings, log);
}, 300_000);

afterAll(async () => {
  log(`\n${formatTable(results)}\nlogs: ${settings.logDir}`);
  await pipeline?.stop();
  await stack?.stop();
}, 60_000);

/**
 * Rows left out of CI until they pass (docs/faults.md). Empty: `postgres proxy half-open`
 * passes since capture bounds its SQL queries and connection closes and the projection
 * runtime's connections have a client-side query timeout that discards them.
 */
const OPEN_IN_CI = new Set<string>();

describe('the fault matrix (short)', () => {
  for (const fault of matrixFaults(SHORT_TIMINGS).filter((f) => !OPEN_IN_CI.has(f.name))) {
    it(`${fault.name}: every committed event in Kafka and the read model exactly once, in order, nothing rolled back visible`, async () => {
      const result = await pipeline.runFault(fault);
      results.push(result);
      const context = `logs in ${settings.logDir}; ${JSON.stringify(result)}`;
      expect(result.problem, context).toBeUndefined();
      if (fault.expectsHalt === undefined) expect(result.events, context).toBeGreaterThan(0);
      for (const side of [result.kafka, result.readModel]) {
        expect(side, context).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, phantom: 0 });
      }
      if (fault.expectsHalt === undefined) {
        expect(result.recoveryMs, context).toBeDefined();
      } else {
        // Halted with the typed error and its documented exit code; the slot stays gone.
        expect(result.halt, context).toMatch(
          /^exit code 1, CAPTURE_SLOT_LOST, slot not recreated: /,
        );
        expect(result.halt, context).toMatch(/Replication slot \S+ is gone/);
        expect(result.halt, context).toMatch(/never recreates a slot silently/);
      }
    }, 240_000);
  }
});
