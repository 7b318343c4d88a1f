/**
 * Runs the fault matrix (or the soak) on its own stack and prints the table: fault, events,
 * lost, duplicated, out of order, rolled-back events made visible, recovery time. Kafka and
 * the read model are tallied separately and a row shows the worse of the two.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultStack } from '../harness/fault-stack.js';
import {
  startPipeline,
  type Fault,
  type ScenarioResult,
  type ScenarioSettings,
} from '../harness/pipeline.js';
import { matrixFaults, type FaultTimings } from './faults.js';

/** Options of {@link runMatrix}. */
export interface MatrixOptions {
  /** Only faults whose name contains one of these. Default: all. */
  readonly only?: readonly string[];
  readonly settings?: Partial<Omit<ScenarioSettings, 'logDir'>>;
  readonly timings?: Partial<FaultTimings>;
  /** Replaces the matrix's faults (the soak passes its own). */
  readonly faults?: readonly Fault[];
  readonly log?: (message: string) => void;
}

/** The short matrix's timings: seconds per fault, so CI runs all of it in a few minutes. */
export const SHORT_SETTINGS: Omit<ScenarioSettings, 'logDir'> = {
  writers: 4,
  eventsPerSecond: 100,
  beforeMs: 1_500,
  afterMs: 2_000,
  settleTimeoutMs: 120_000,
  transactionTimeoutMs: 5_000,
};

/** The short matrix's fault durations. */
export const SHORT_TIMINGS: FaultTimings = { holdMs: 4_000, latencyMs: 150 };

/** A finished matrix run. */
export interface MatrixRun {
  readonly results: readonly ScenarioResult[];
  /** Where each process's log is. */
  readonly logDir: string;
}

/** Starts the fault stack, runs each fault in turn, stops the stack. */
export async function runMatrix(options: MatrixOptions = {}): Promise<MatrixRun> {
  const log = options.log ?? (() => undefined);
  const logDir = mkdtempSync(join(tmpdir(), 'tributary-faults-'));
  const settings: ScenarioSettings = { ...SHORT_SETTINGS, ...options.settings, logDir };
  const timings = { ...SHORT_TIMINGS, ...options.timings };
  const faults = (options.faults ?? matrixFaults(timings)).filter(
    (fault) =>
      options.only === undefined ||
      options.only.length === 0 ||
      options.only.some((part) => fault.name.includes(part)),
  );
  log(`starting the fault stack (logs in ${logDir})`);
  const stack = await startFaultStack(log);
  const results: ScenarioResult[] = [];
  try {
    const pipeline = await startPipeline(stack, settings, log);
    try {
      for (const fault of faults) {
        const started = Date.now();
        const result = await pipeline.runFault(fault).catch((error: unknown): ScenarioResult => ({
          fault: fault.name,
          events: 0,
          kafka: { seen: 0, lost: 0, duplicated: 0, outOfOrder: 0, phantom: 0 },
          readModel: { seen: 0, lost: 0, duplicated: 0, outOfOrder: 0, phantom: 0 },
          recoveryMs: undefined,
          captureExits: 0,
          projectionExits: 0,
          problem: error instanceof Error ? error.message : String(error),
        }));
        results.push(result);
        log(`${formatRow(result)}  (${Math.round((Date.now() - started) / 1000)} s)`);
      }
    } finally {
      await pipeline.stop();
    }
  } finally {
    await stack.stop();
  }
  return { results, logDir };
}

/** Why a row fails, or an empty list. */
export function failuresOf(result: ScenarioResult): string[] {
  const reasons: string[] = [];
  for (const [side, counts] of [
    ['Kafka', result.kafka],
    ['read model', result.readModel],
  ] as const) {
    if (counts.lost > 0) reasons.push(`${counts.lost} lost in ${side}`);
    if (counts.duplicated > 0) reasons.push(`${counts.duplicated} duplicated in ${side}`);
    if (counts.outOfOrder > 0) reasons.push(`${counts.outOfOrder} out of order in ${side}`);
    if (counts.phantom > 0) reasons.push(`${counts.phantom} rolled-back events visible in ${side}`);
  }
  if (result.problem !== undefined) reasons.push(result.problem);
  if (result.events === 0 && result.halt === undefined) reasons.push('no events were committed');
  return reasons;
}

const COLUMNS = [
  ['fault', 30],
  ['events', 7],
  ['lost', 5],
  ['dup', 5],
  ['order', 6],
  ['rolled back', 12],
  ['recovery', 9],
  ['exits c/p', 10],
] as const;

const worst = (
  result: ScenarioResult,
  key: 'lost' | 'duplicated' | 'outOfOrder' | 'phantom',
): number => Math.max(result.kafka[key], result.readModel[key]);

/** One table row. */
export function formatRow(result: ScenarioResult): string {
  const recovery =
    result.recoveryMs === undefined ? 'never' : `${(result.recoveryMs / 1000).toFixed(1)} s`;
  const cells = [
    result.fault,
    String(result.events),
    String(worst(result, 'lost')),
    String(worst(result, 'duplicated')),
    String(worst(result, 'outOfOrder')),
    String(worst(result, 'phantom')),
    recovery,
    `${result.captureExits}/${result.projectionExits}`,
  ];
  return cells.map((cell, index) => cell.padEnd(COLUMNS[index]?.[1] ?? 8)).join(' ');
}

/** The whole table, with notes (halts, problems) under it. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const header = COLUMNS.map(([name, width]) => name.padEnd(width)).join(' ');
  const lines = [header, '-'.repeat(header.length), ...results.map(formatRow)];
  for (const result of results) {
    if (result.halt !== undefined)
      lines.push(`  ${result.fault}: halted as required (${result.halt})`);
    for (const reason of failuresOf(result)) lines.push(`  ${result.fault}: FAILED — ${reason}`);
  }
  const total = (key: 'lost' | 'duplicated' | 'outOfOrder' | 'phantom'): number =>
    results.reduce((sum, result) => sum + worst(result, key), 0);
  lines.push(
    `totals: ${results.reduce((sum, r) => sum + r.events, 0)} events, ${total('lost')} lost, ${total('duplicated')} duplicated, ${total('outOfOrder')} out of order, ${total('phantom')} rolled back visible`,
  );
  return lines.join('\n');
}
