/**
 * `npm run bench:eventstore-cpu`: the client-side CPU of one single-event append, in µs per
 * call, without a server: `prepareAppend` alone (validation, record-size refusal, id and
 * clock), and `PostgresEventStore.appendToStream` whole against a pool whose `query`
 * answers at once as the server does (everything the store does around its one
 * statement, minus pg's protocol work). CPU time (`process.cpuUsage`), not wall-clock:
 * meaningful on a shared machine, where wall-clock rates are not.
 */
import { prepareAppend, systemClock, uuidV7, type NewEvent } from '@tributary/core';
import { PostgresEventStore } from '@tributary/outbox';
import pg from 'pg';

const CALLS = Number(process.env.BENCH_CALLS ?? 50_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const event = (): NewEvent => ({
  type: 'LineAdded',
  data: {
    orderId: 'order-0',
    lines: [{ sku: 'SKU-1', quantity: 2, priceCents: 1999 }],
    note: 'benchmark event with a realistic small payload',
  },
});

/**
 * A pg pool (so the store runs its autocommit fast path) that never touches a network and
 * answers as PostgreSQL does to a single-stream append that inserted: with an exact
 * expected version the statement is a top-level INSERT, so no row and a row count of 1; a
 * statement with `returning` gets the inserted event's version back. It builds the
 * `pg.Query` a pg client builds for each query (its copy of the config included), so that
 * part of pg's work counts too.
 */
class AnsweringPool extends pg.Pool {
  override query(): never;
  override query(config?: unknown): Promise<unknown> {
    const { text, values } = new pg.Query(config as pg.QueryConfig) as unknown as pg.QueryConfig;
    if (!text.includes('returning')) return Promise.resolve({ rows: [], rowCount: 1 });
    const version = Number(values?.[3]) + 1;
    return Promise.resolve({ rows: [{ aggregate_version: version }], rowCount: 1 });
  }
}

/** Best of `ROUNDS` rounds (the least disturbed by other processes), in µs of CPU per call. */
async function cpuPerCall(run: (n: number) => unknown): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round += 1) {
    const start = process.cpuUsage();
    for (let n = 0; n < CALLS; n += 1) await run(n);
    const used = process.cpuUsage(start);
    best = Math.min(best, (used.user + used.system) / CALLS);
  }
  return best;
}

async function main(): Promise<void> {
  const stream = { aggregateType: 'Order', aggregateId: 'order-0' };
  const options = { idGenerator: uuidV7, clock: systemClock };
  const prepare = await cpuPerCall((n) => prepareAppend(stream, [event()], n, options));
  const ids = await cpuPerCall(() => uuidV7());
  const pool = new AnsweringPool();
  const store = new PostgresEventStore({ connection: pool });
  const append = await cpuPerCall((n) =>
    store.appendToStream(stream, [event()], { expectedVersion: n }),
  );
  await pool.end();
  process.stdout.write(
    `\nclient CPU per single-event append, best of ${ROUNDS} rounds of ${CALLS} calls\n` +
      `  prepareAppend                          ${prepare.toFixed(2).padStart(7)} µs\n` +
      `    of which uuidV7                      ${ids.toFixed(2).padStart(7)} µs\n` +
      `  appendToStream (stub pool, no server)  ${append.toFixed(2).padStart(7)} µs\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:eventstore-cpu failed: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
