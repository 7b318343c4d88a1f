/**
 * The load process of `npm run bench:projections`' end-to-end runs: appends counter events
 * through `PostgresEventStore` at a fixed offered rate, in its own process so that neither
 * the capturer nor the projection runtime shares its thread.
 *
 * Environment: DATABASE_URL, OUTBOX_SCHEMA, RATE (events/s), SECONDS, APPENDERS (concurrent
 * writers, each on its own counters), EVENTS_PER_APPEND (events per append, i.e. per source
 * transaction), OUT (a file). The schedule is open-loop: append n of a writer is due at
 * `start + n × interval`, and a writer that falls behind appends at once until it is back on
 * schedule, so what it could not offer shows as a lower offered rate, not as a slower clock.
 *
 * Writes to OUT the commit time (wall clock, ms) of every appended event, as JSON
 * `[[eventId, committedAtMs], …]`, and prints one JSON line on stdout:
 * `{"sent":n,"seconds":s,"offered":events/s,"appendP50Ms":…,"appendP99Ms":…}`.
 */
import { writeFile } from 'node:fs/promises';
import { PostgresEventStore } from '@tributary/outbox';
import { wallClockMs } from './totals-projection.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};
const rate = Number(env('RATE'));
const seconds = Number(env('SECONDS'));
const appenders = Number(env('APPENDERS'));
const perAppend = Number(env('EVENTS_PER_APPEND'));
const store = new PostgresEventStore({
  connectionString: env('DATABASE_URL'),
  config: { schema: env('OUTBOX_SCHEMA') },
});
const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

// Interval between two appends of one writer, so that all writers together offer `rate`.
const interval = (1_000 * appenders * perAppend) / rate;
const appendsPerWriter = Math.round((rate * seconds) / (appenders * perAppend));
const committed: [string, number][] = [];
const appendMs: number[] = [];
const started = performance.now();
await Promise.all(
  Array.from({ length: appenders }, async (_, appender) => {
    const versions = new Map<string, number>();
    // Writers start staggered across one interval, so their appends do not come in bursts.
    const offset = (appender * interval) / appenders;
    for (let tick = 0; tick < appendsPerWriter; tick += 1) {
      const wait = started + offset + tick * interval - performance.now();
      if (wait > 0) await sleep(wait);
      const counter = `k${appender}_${tick % 100}`;
      const version = versions.get(counter) ?? 0;
      const before = performance.now();
      const result = await store.appendToStream(
        { aggregateType: 'Counter', aggregateId: counter },
        Array.from({ length: perAppend }, () => ({ type: 'Incremented', data: { by: 1 } })),
        { expectedVersion: version === 0 ? 'no-stream' : version },
      );
      const at = wallClockMs();
      appendMs.push(performance.now() - before);
      versions.set(counter, version + perAppend);
      for (const event of result.events) committed.push([event.eventId, at]);
    }
  }),
);
const elapsed = (performance.now() - started) / 1_000;
await store.close();
await writeFile(env('OUT'), JSON.stringify(committed));
appendMs.sort((a, b) => a - b);
const at = (p: number): number =>
  appendMs[Math.min(appendMs.length - 1, Math.floor((appendMs.length * p) / 100))] ?? Number.NaN;
process.stdout.write(
  `${JSON.stringify({
    sent: committed.length,
    seconds: elapsed,
    offered: committed.length / elapsed,
    appendP50Ms: at(50),
    appendP99Ms: at(99),
  })}\n`,
);
