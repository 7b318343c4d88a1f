/**
 * What the matrix checks after each fault: the committed events (read back from the outbox
 * table, the only truth after a crash) against what a read_committed Kafka reader saw and
 * what the read model holds. Each side is tallied by event id: lost (committed, absent),
 * duplicated (present more than once), out of order (an aggregate's version lower than one
 * already seen before it in partition or application order) and phantom (an event of a
 * rolled-back transaction made visible).
 */
import { randomUUID } from 'node:crypto';
import { EventHeaders } from '@tributary/core';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pg from 'pg';
import { APPLIED_TABLE } from './read-model.js';

/** One event as a reader saw it, in order. */
export interface SeenEvent {
  readonly eventId: string;
  readonly stream: string;
  readonly version: number;
}

/** A committed event from the outbox table. */
export interface CommittedEvent {
  readonly eventId: string;
  readonly stream: string;
  readonly version: number;
}

/** The tally of one side (Kafka or the read model). */
export interface Tally {
  readonly seen: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  readonly phantom: number;
}

/**
 * Tallies `sequences` (each one ordered: a partition by offset, or the read model by
 * application order) against the committed events.
 */
export function tally(
  committed: readonly CommittedEvent[],
  sequences: readonly (readonly SeenEvent[])[],
  rolledBack: ReadonlySet<string>,
): Tally {
  const counts = new Map<string, number>();
  let outOfOrder = 0;
  let seen = 0;
  for (const sequence of sequences) {
    const last = new Map<string, number>();
    for (const event of sequence) {
      seen += 1;
      const count = (counts.get(event.eventId) ?? 0) + 1;
      counts.set(event.eventId, count);
      const previous = last.get(event.stream) ?? 0;
      // A duplicate is counted once, as a duplicate; anything else going backwards is disorder.
      if (count === 1 && event.version < previous) outOfOrder += 1;
      last.set(event.stream, Math.max(previous, event.version));
    }
  }
  let duplicated = 0;
  for (const count of counts.values()) duplicated += count - 1;
  const lost = committed.filter((event) => !counts.has(event.eventId)).length;
  let phantom = 0;
  for (const id of rolledBack) if (counts.has(id)) phantom += 1;
  return { seen, lost, duplicated, outOfOrder, phantom };
}

/** Every committed event in the outbox table. */
export async function readCommitted(databaseUrl: string): Promise<CommittedEvent[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; stream: string; version: number }>(
      `select event_id::text as id, aggregate_type || '/' || aggregate_id as stream,
              aggregate_version as version from tributary.events`,
    );
    return rows.map((row) => ({ eventId: row.id, stream: row.stream, version: row.version }));
  } finally {
    await client.end();
  }
}

/** The read model in application order. */
export async function readReadModel(databaseUrl: string): Promise<SeenEvent[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rows } = await client
      .query<SeenEvent>(
        `select event_id as "eventId", stream, version from public.${APPLIED_TABLE} order by seq`,
      )
      .catch((error: unknown) => {
        // Before the projection's first migration the table does not exist yet.
        if ((error as { code?: string }).code === '42P01') return { rows: [] };
        throw error;
      });
    return rows;
  } finally {
    await client.end();
  }
}

/** A read_committed reader of the event topics that keeps every record, per partition. */
export interface KafkaLedger {
  /** Partition → events in offset order. */
  readonly partitions: ReadonlyMap<string, readonly SeenEvent[]>;
  /** Distinct event ids seen so far. */
  readonly ids: ReadonlySet<string>;
  stop(): Promise<void>;
}

/**
 * Reads `topics` from the beginning, read_committed, on the broker's direct listener. If
 * the consumer crashes for good (the broker was down too long), a new one starts from the
 * beginning; positions already seen are skipped, so a re-read is not a duplicate.
 */
export async function startKafkaLedger(
  brokers: readonly string[],
  topics: readonly string[],
): Promise<KafkaLedger> {
  const kafka = new Kafka({
    clientId: 'fault-matrix-verifier',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
  const partitions = new Map<string, SeenEvent[]>();
  const positions = new Set<string>();
  const ids = new Set<string>();
  let consumer: Consumer | undefined;
  let stopped = false;

  const start = async (): Promise<void> => {
    const next = kafka.consumer({
      groupId: `fault-verifier-${randomUUID()}`,
      maxWaitTimeInMs: 100,
    });
    consumer = next;
    next.on(next.events.CRASH, (event) => {
      if (event.payload.restart || stopped) return;
      void next
        .disconnect()
        .catch(() => undefined)
        .then(() => (stopped ? undefined : start().catch(() => undefined)));
    });
    await next.connect();
    await next.subscribe({ topics: [...topics], fromBeginning: true });
    await next.run({
      eachBatch: async (payload) => {
        const { batch } = payload;
        const key = `${batch.topic}/${batch.partition}`;
        let list = partitions.get(key);
        if (list === undefined) partitions.set(key, (list = []));
        for (const message of batch.messages) {
          const position = `${key}/${message.offset}`;
          payload.resolveOffset(message.offset);
          if (positions.has(position)) continue;
          positions.add(position);
          const header = (name: string): string => String(message.headers?.[name] ?? '');
          const eventId = header(EventHeaders.eventId);
          ids.add(eventId);
          list.push({
            eventId,
            stream: `${header(EventHeaders.aggregateType)}/${header(EventHeaders.aggregateId)}`,
            version: Number(header(EventHeaders.aggregateVersion)),
          });
        }
        await Promise.resolve();
      },
    });
  };
  await start();
  return {
    partitions,
    ids,
    async stop() {
      stopped = true;
      await consumer?.disconnect().catch(() => undefined);
    },
  };
}
