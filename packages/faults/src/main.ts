/**
 * `npm run test:faults` (the matrix) and `npm run soak` (the long version). Prints the
 * table and exits 1 if any event was lost, duplicated, out of order or rolled back yet
 * visible, or a fault did not behave as required.
 *
 * Flags: `--only <text>` (repeatable; faults whose name contains it), and for the soak
 * `--soak`, `--duration-s <n>` (default 900), `--kills <n>` (default 100), `--events <n>`
 * (default 100000; the writers are paced to reach it within the duration).
 */
import { parseArgs } from 'node:util';
import { failuresOf, formatTable, runMatrix } from './matrix/run-matrix.js';
import { soakFault, type SoakReport } from './matrix/soak.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', multiple: true },
    soak: { type: 'boolean' },
    'duration-s': { type: 'string' },
    kills: { type: 'string' },
    events: { type: 'string' },
  },
  strict: true,
});

const positive = (text: string | undefined, fallback: number, flag: string): number => {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`--${flag} must be a positive integer, got "${text}"\n`);
    process.exit(2);
  }
  return value;
};

const log = (message: string): void => {
  process.stderr.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

// Ctrl-C: exit through 'exit', whose handlers SIGKILL the children and the fault stack.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

let run;
let report: SoakReport | undefined;
if (values.soak === true) {
  const durationMs = positive(values['duration-s'], 900, 'duration-s') * 1000;
  const kills = positive(values.kills, 100, 'kills');
  const events = positive(values.events, 100_000, 'events');
  report = { kills: 0, faults: {} };
  // 20 % above the target rate: the faults stall the writers now and then.
  const eventsPerSecond = Math.ceil(((events / durationMs) * 1000 * 1.2) / 10) * 10;
  log(`soak: ${durationMs / 1000} s, ≥ ${kills} kills, ≥ ${events} events at ${eventsPerSecond}/s`);
  run = await runMatrix({
    log,
    settings: { eventsPerSecond, writers: 6, afterMs: 5_000, settleTimeoutMs: 300_000 },
    faults: [
      soakFault(
        { durationMs, kills, faultEveryKills: 5, timings: { holdMs: 4_000, latencyMs: 150 }, log },
        report,
      ),
    ],
  });
} else {
  run = await runMatrix({ log, ...(values.only === undefined ? {} : { only: values.only }) });
}

process.stdout.write(`\n${formatTable(run.results)}\n`);
if (report !== undefined) {
  const faults = Object.entries(report.faults)
    .map(([name, count]) => `${name} ×${count}`)
    .join(', ');
  process.stdout.write(`soak: ${report.kills} process kills; faults: ${faults || 'none'}\n`);
}
process.stdout.write(`logs: ${run.logDir}\n`);
process.exit(run.results.some((result) => failuresOf(result).length > 0) ? 1 : 0);
