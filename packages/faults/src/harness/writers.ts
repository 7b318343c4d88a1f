/**
 * Concurrent writers appending through the PostgreSQL event store while the faults hit:
 * single- and multi-aggregate transactions of 1–4 events, about 10 % rolled back on
 * purpose. A writer whose database goes away keeps trying; after an error it re-reads its
 * streams' versions, because a COMMIT whose reply was lost may or may not have happened.
 * What was committed is therefore read back from the outbox table, never assumed.
 */
import { uuidV7, type StreamAppend } from '@tributary/core';
import { PostgresEventStore } from '@tributary/outbox';
import pg from 'pg';

/** The aggregate types the writers append to; one topic each. */
export const AGGREGATE_TYPES = ['Account', 'Transfer', 'Order'] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const randomInt = (min: number, max: number): number =>
  min + Math.floor(Math.random() * (max - min));

/** Options of {@link startWriters}. */
export interface WritersOptions {
  /** Direct URL of the database with the outbox. */
  readonly databaseUrl: string;
  readonly writers: number;
  /** Target events per second over all writers. */
  readonly eventsPerSecond: number;
  /** Distinguishes the aggregates of one run from another's. */
  readonly prefix: string;
}

/** Running writers. */
export interface Writers {
  /** Event ids of transactions the writers rolled back on purpose. */
  readonly rolledBack: ReadonlySet<string>;
  /** Transactions that failed with an error (their outcome is read back from the table). */
  readonly failedTransactions: number;
  stop(): Promise<void>;
}

/** Starts the writers; they run until {@link Writers.stop}. */
export function startWriters(options: WritersOptions): Writers {
  // Short timeouts: a writer must notice a dead server quickly and try again, not hang.
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.writers + 1,
    connectionTimeoutMillis: 2_000,
    query_timeout: 10_000,
  });
  pool.on('error', () => undefined);
  // A checked-out client whose server dies between two queries emits 'error' itself.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const store = new PostgresEventStore({ connection: pool });
  const rolledBack = new Set<string>();
  let failed = 0;
  let stopping = false;

  const write = async (writer: number): Promise<void> => {
    const streams = Array.from({ length: 9 }, (_, index) => ({
      aggregateType: AGGREGATE_TYPES[index % AGGREGATE_TYPES.length] as string,
      aggregateId: `${options.prefix}-w${writer}-${index}`,
      version: 0,
    }));
    const rate = options.eventsPerSecond / options.writers;
    const started = performance.now();
    let written = 0;
    let stale = false;
    while (!stopping) {
      const client = await pool.connect().catch(() => undefined);
      if (client === undefined) {
        await sleep(200);
        continue;
      }
      let broken: Error | undefined;
      try {
        if (stale) {
          const { rows } = await client.query<{ id: string; version: number }>(
            `select aggregate_id as id, max(aggregate_version)::int as version
               from tributary.events where aggregate_id like $1 group by aggregate_id`,
            [`${options.prefix}-w${writer}-%`],
          );
          const versions = new Map(rows.map((row) => [row.id, row.version]));
          for (const stream of streams) stream.version = versions.get(stream.aggregateId) ?? 0;
          stale = false;
        }
        const chosen = [...streams]
          .sort(() => Math.random() - 0.5)
          .slice(0, Math.random() < 0.25 ? randomInt(2, 4) : 1);
        const appends: StreamAppend[] = chosen.map((stream) => ({
          stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
          expectedVersion: stream.version === 0 ? 'no-stream' : stream.version,
          events: Array.from({ length: randomInt(1, 5) }, (_, index) => ({
            eventId: uuidV7(),
            type: 'Happened',
            data: { writer, index, padding: 'x'.repeat(randomInt(10, 200)) },
          })),
        }));
        const rollback = Math.random() < 0.1;
        await client.query('begin');
        await store.withTransaction(client).appendMany(appends);
        await client.query(rollback ? 'rollback' : 'commit');
        if (rollback) {
          for (const append of appends)
            for (const event of append.events) rolledBack.add(event.eventId as string);
        } else {
          for (const [index, append] of appends.entries()) {
            const stream = chosen[index];
            if (stream !== undefined) stream.version += append.events.length;
            written += append.events.length;
          }
        }
      } catch (error) {
        failed += 1;
        stale = true;
        broken = error instanceof Error ? error : new Error(String(error));
      } finally {
        // A connection that failed mid-transaction is discarded, not reused.
        client.release(broken);
      }
      if (broken !== undefined) {
        await sleep(200);
        continue;
      }
      const wait = started + (written * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
    }
  };

  const running = Array.from({ length: options.writers }, (_, writer) => write(writer));
  return {
    rolledBack,
    get failedTransactions() {
      return failed;
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      await Promise.all(running);
      await pool.end();
    },
  };
}
