/**
 * `npm run bench:eventstore`: appends/s and events/s of PostgresEventStore for
 * transactions of 1 and 10 events with 1 and 8 concurrent writers, next to raw `pg`
 * multi-row INSERTs of the same rows, measured in the same run against the same server.
 *
 * Uses DATABASE_URL when set, else the local stack (`npm run stack:up`, started if needed).
 * Each run gets a fresh database, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { uuidV7 } from '@tributary/core';
import { upStack } from '@tributary/testing';
import pg from 'pg';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { withDatabase } from '../support/bench-database.js';

const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4_000);
/**
 * Each scenario's time is split into rounds that alternate the store and the raw INSERT
 * (store first, then raw first, …), so a change of load on a shared machine weighs on both
 * sides of the ratio alike.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);

interface Result {
  appends: number;
  seconds: number;
  readonly latencies: number[];
}

async function serverUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  process.stdout.write('DATABASE_URL not set: using the local stack (npm run stack:up)…\n');
  const { state } = await upStack({ log: (line: string) => process.stdout.write(`  ${line}\n`) });
  if (state.databaseUrl === undefined) throw new Error('the local stack has no database URL');
  return state.databaseUrl;
}

async function runFor(
  writers: number,
  durationMs: number,
  append: (writer: number, n: number) => Promise<void>,
): Promise<Result> {
  const latencies: number[] = [];
  let appends = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; performance.now() < deadline; n += 1) {
        const t0 = performance.now();
        await append(writer, n);
        latencies.push(performance.now() - t0);
        appends += 1;
      }
    }),
  );
  return { appends, seconds: (performance.now() - started) / 1000, latencies };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const payload = (n: number): Record<string, unknown> => ({
  orderId: `order-${n}`,
  lines: [{ sku: 'SKU-1', quantity: 2, priceCents: 1999 }],
  note: 'benchmark event with a realistic small payload',
});

async function main(): Promise<void> {
  const url = await serverUrl();
  const database = `bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create database "${database}"`);
  const databaseUrl = withDatabase(url, database);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  let store: PostgresEventStore | undefined;
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);
  try {
    await migrateOutbox({ connectionString: databaseUrl });
    store = new PostgresEventStore({ connectionString: databaseUrl });
    const eventStore = store;
    const rows: string[] = [];
    const header = `${'scenario'.padEnd(22)} ${'appends/s'.padStart(10)} ${'events/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} │ ${'raw INSERT appends/s'.padStart(20)} ${'store/raw'.padStart(9)}`;
    process.stdout.write(
      `\nPostgresEventStore vs raw pg INSERT, ${DURATION_MS / 1000}s per scenario and side in ${ROUNDS} alternating rounds, fsync as configured on the server\n`,
    );
    for (const eventsPerAppend of [1, 10]) {
      for (const writers of [1, 8]) {
        const label = `${eventsPerAppend} event${eventsPerAppend > 1 ? 's' : ''}, ${writers} writer${writers > 1 ? 's' : ''}`;
        const versions = new Map<string, number>();
        const storeRound = (ms: number) =>
          runFor(writers, ms, async (writer) => {
            const aggregateId = `w${writer}-of-${writers}-${eventsPerAppend}`;
            const expected = versions.get(aggregateId) ?? 0;
            const result = await eventStore.appendToStream(
              { aggregateType: 'Order', aggregateId },
              Array.from({ length: eventsPerAppend }, (_, i) => ({
                type: 'LineAdded',
                data: payload(i),
              })),
              { expectedVersion: expected },
            );
            versions.set(aggregateId, result.nextExpectedVersion);
          });
        const rawVersions = new Map<string, number>();
        const rawRound = (ms: number) =>
          runFor(writers, ms, async (writer) => {
            const aggregateId = `raw-w${writer}-of-${writers}-${eventsPerAppend}`;
            const version = rawVersions.get(aggregateId) ?? 0;
            const values: unknown[] = [];
            const tuples: string[] = [];
            for (let i = 0; i < eventsPerAppend; i += 1) {
              const base = values.length;
              tuples.push(
                `($${base + 1}, 'Order', $${base + 2}, $${base + 3}, 'LineAdded', 1, $${base + 4}, '{}'::jsonb, now())`,
              );
              values.push(uuidV7(), aggregateId, version + i + 1, JSON.stringify(payload(i)));
            }
            await pool.query(
              `insert into tributary.events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, schema_version, payload, metadata, occurred_at) values ${tuples.join(', ')}`,
              values,
            );
            rawVersions.set(aggregateId, version + eventsPerAppend);
          });
        const storeResult: Result = { appends: 0, seconds: 0, latencies: [] };
        const rawResult: Result = { appends: 0, seconds: 0, latencies: [] };
        for (let round = 0; round < ROUNDS; round += 1) {
          const order = round % 2 === 0 ? [storeRound, rawRound] : [rawRound, storeRound];
          for (const run of order) {
            const result = await run(DURATION_MS / ROUNDS);
            const into = run === storeRound ? storeResult : rawResult;
            into.appends += result.appends;
            into.seconds += result.seconds;
            into.latencies.push(...result.latencies);
          }
        }
        const storeRate = storeResult.appends / storeResult.seconds;
        const rawRate = rawResult.appends / rawResult.seconds;
        rows.push(
          `${label.padEnd(22)} ${storeRate.toFixed(0).padStart(10)} ${(storeRate * eventsPerAppend).toFixed(0).padStart(10)} ${percentile(storeResult.latencies, 50).toFixed(2).padStart(8)} ${percentile(storeResult.latencies, 99).toFixed(2).padStart(8)} │ ${rawRate.toFixed(0).padStart(20)} ${(storeRate / rawRate).toFixed(2).padStart(9)}`,
        );
        process.stdout.write(`  done: ${label}\n`);
      }
    }
    process.stdout.write(`\n${header}\n${'─'.repeat(header.length)}\n${rows.join('\n')}\n`);
    process.stdout.write(
      `\npeak RSS of the benchmark process: ${(peakRss / 1024 / 1024).toFixed(0)} MiB\n`,
    );
  } finally {
    clearInterval(rssTimer);
    await store?.close();
    await pool.end();
    await admin.query(`drop database if exists "${database}"`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:eventstore failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
