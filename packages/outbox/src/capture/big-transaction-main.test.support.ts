/**
 * `npm run test:big-transaction -- --events 1000000 [--chunk 10000] [--aggregates 1000]`:
 * commits ONE source transaction of `--events` outbox rows, captures it with `tributary
 * capture` (a child process, default chunk limits unless `--chunk`) and prints events,
 * lost, duplicated, out of order, the capture process's peak RSS and the wall time (capture
 * start to the last event read by a read_committed consumer). Exits 1 when anything was
 * lost, duplicated or out of order, or the peak RSS is 512 MiB or more. Uses the stack of
 * DATABASE_URL / KAFKA_BROKERS / SCHEMA_REGISTRY_URL, else starts (or reuses) the local one.
 * Not part of `npm test`: a million events take minutes.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EXTERNAL_SERVER_ENV, upStack, useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { migrateOutbox } from '../migrations.js';
import {
  BIG_TYPE,
  prepareSlot,
  readBigTransaction,
  startCaptureChild,
} from './big-transaction.test.support.js';
import { writeBigTransaction } from './big-transaction.test.support.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string' },
    chunk: { type: 'string' },
    aggregates: { type: 'string' },
  },
  strict: true,
});
const positive = (text: string | undefined, fallback: number, flag: string): number => {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    process.stderr.write(`--${flag} must be a positive integer, got "${text}"\n`);
    process.exit(2);
  }
  return value;
};
const events = positive(values.events, 1_000_000, 'events');
const chunk = values.chunk === undefined ? undefined : positive(values.chunk, 0, 'chunk');
const aggregates = positive(values.aggregates, 1_000, 'aggregates');
const log = (message: string): void => {
  process.stderr.write(`[big-transaction ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

if (process.env[EXTERNAL_SERVER_ENV.postgres] === undefined) {
  log('starting (or reusing) the local stack');
  const { state } = await upStack({ log: (line: string) => log(line) });
  process.env[EXTERNAL_SERVER_ENV.postgres] = state.databaseUrl;
  process.env[EXTERNAL_SERVER_ENV.kafka] = state.kafkaBrokers?.join(',');
  process.env[EXTERNAL_SERVER_ENV.registry] = state.schemaRegistryUrl;
}
const env = await useIntegrationEnv({ label: 'bigtx-main', registerCleanup: false });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
let exitCode = 1;
try {
  await migrateOutbox({ connectionString: env.databaseUrl });
  const name = env.name('big');
  await prepareSlot(pool, name);
  log(`writing one source transaction of ${events} events`);
  const writeStarted = performance.now();
  await writeBigTransaction(pool, { events, aggregates, prefix: 'big-' });
  log(`committed in ${((performance.now() - writeStarted) / 1000).toFixed(1)} s; capturing`);
  const logDir = mkdtempSync(join(tmpdir(), 'tributary-big-transaction-'));
  const started = performance.now();
  const child = startCaptureChild(
    {
      databaseUrl: env.databaseUrl,
      kafkaBrokers: env.kafkaBrokers,
      name,
      topicPrefix: env.topic(name),
      checkpointTopic: env.topic('checkpoints'),
      logDir,
    },
    'capture',
    chunk === undefined ? {} : { TRIBUTARY_CHUNK_MAX_EVENTS: String(chunk) },
  );
  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, child.peakRssMiB() ?? 0);
  }, 500);
  const reader = await readBigTransaction(
    env.kafkaBrokers,
    env.topic(`${name}.${BIG_TYPE}`),
    events,
  );
  let reported = 0;
  const progress = setInterval(() => {
    const { distinct } = reader.tally();
    if (distinct !== reported) log(`${distinct} events read`);
    reported = distinct;
  }, 10_000);
  try {
    await reader.waitFor((tally) => tally.distinct === events, 3_600_000);
  } finally {
    clearInterval(progress);
  }
  const wallSeconds = (performance.now() - started) / 1000;
  // A moment for any duplicate to show up, then the final figures.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  peakRss = Math.max(peakRss, child.peakRssMiB() ?? 0);
  clearInterval(sampler);
  const tally = reader.tally();
  child.process.kill('SIGTERM');
  await child.exited;
  await reader.stop();
  const rows: [string, string][] = [
    ['events', String(events)],
    ['records read', String(tally.records)],
    ['lost', String(tally.lost)],
    ['duplicated', String(tally.duplicated)],
    ['out of order', String(tally.outOfOrder)],
    ['source transactions (commit LSNs)', String(tally.commitLsns)],
    ['chunk (events)', chunk === undefined ? 'default (10000)' : String(chunk)],
    ['capture peak RSS', `${peakRss.toFixed(1)} MiB`],
    ['wall time (capture start → last event read)', `${wallSeconds.toFixed(1)} s`],
    ['events/s', (events / wallSeconds).toFixed(0)],
  ];
  for (const [label, value] of rows) process.stdout.write(`${label.padEnd(45)} ${value}\n`);
  process.stdout.write(`capture log: ${join(logDir, 'capture.log')}\n`);
  const ok =
    tally.lost === 0 &&
    tally.duplicated === 0 &&
    tally.outOfOrder === 0 &&
    tally.commitLsns === 1 &&
    peakRss < 512;
  exitCode = ok ? 0 : 1;
} finally {
  await pool.end();
  await env.cleanup();
}
process.exit(exitCode);
