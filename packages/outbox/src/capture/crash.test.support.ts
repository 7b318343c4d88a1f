/**
 * The load, the ledger and the order check of the capture crash suite: concurrent writers
 * that remember what they committed and rolled back, a tally of what a read_committed reader
 * saw, and the per-aggregate order check over partitions.
 */
import { EventHeaders, uuidV7, type StreamAppend } from '@tributary/core';
import type pg from 'pg';
import { expect } from 'vitest';
import type { PostgresEventStore } from '../event-store/postgres-event-store.js';
import type { SeenRecord, TopicReader } from './kafka/kafka-reader.test.support.js';

/** The aggregate types the load writes. */
export const TYPES = ['Account', 'Transfer', 'Order'] as const;

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));
/** An integer in [min, max). */
export const random = (min: number, max: number): number =>
  min + Math.floor(Math.random() * (max - min));

/** Where the load writes. */
export interface LoadDatabase {
  readonly pool: pg.Pool;
  readonly store: PostgresEventStore;
}

/** An event the load committed, with the wall clock right after its commit. */
export interface CommittedEvent {
  readonly eventId: string;
  readonly stream: string;
  readonly version: number;
  readonly committedAt: number;
}

/** Concurrent writers: single- and multi-aggregate transactions, ~10 % rolled back. */
export class Load {
  constructor(
    private readonly database: LoadDatabase,
    private readonly prefix: string,
  ) {}

  readonly committed: CommittedEvent[] = [];
  readonly rolledBack = new Set<string>();
  rolledBackTransactions = 0;
  multiAggregateTransactions = 0;
  #stop = false;
  readonly #writers: Promise<void>[] = [];

  start(writers: number, eventsPerSecond: number, limit: number): void {
    for (let writer = 0; writer < writers; writer += 1) {
      this.#writers.push(this.#write(writer, eventsPerSecond / writers, limit));
    }
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#writers);
  }

  /** Resolves once `count` events are committed (or the writers stopped). */
  async until(count: number): Promise<void> {
    while (this.committed.length < count && !this.#stop) await sleep(50);
  }

  async #write(writer: number, rate: number, limit: number): Promise<void> {
    const aggregates = Array.from({ length: 15 }, (_, index) => ({
      aggregateType: TYPES[index % TYPES.length] as string,
      aggregateId: `${this.prefix}-w${writer}-${index}`,
      version: 0,
    }));
    const started = performance.now();
    let written = 0;
    while (!this.#stop && this.committed.length < limit) {
      const multi = Math.random() < 0.25;
      const chosen = [...aggregates]
        .sort(() => Math.random() - 0.5)
        .slice(0, multi ? random(2, 4) : 1);
      const appends: StreamAppend[] = chosen.map((aggregate) => ({
        stream: { aggregateType: aggregate.aggregateType, aggregateId: aggregate.aggregateId },
        expectedVersion: aggregate.version === 0 ? 'no-stream' : aggregate.version,
        events: Array.from({ length: random(1, 5) }, (_, index) => ({
          eventId: uuidV7(),
          type: 'Happened',
          data: { writer, index, padding: 'x'.repeat(random(10, 200)) },
        })),
      }));
      const rollback = Math.random() < 0.1;
      const client = await this.database.pool.connect();
      try {
        await client.query('begin');
        await this.database.store.withTransaction(client).appendMany(appends);
        await client.query(rollback ? 'rollback' : 'commit');
      } finally {
        client.release();
      }
      const committedAt = Date.now();
      if (rollback) {
        this.rolledBackTransactions += 1;
        for (const append of appends) {
          for (const event of append.events) this.rolledBack.add(event.eventId as string);
        }
      } else {
        if (multi) this.multiAggregateTransactions += 1;
        for (const [index, append] of appends.entries()) {
          const aggregate = chosen[index] as (typeof aggregates)[number];
          for (const event of append.events) {
            aggregate.version += 1;
            written += 1;
            this.committed.push({
              eventId: event.eventId as string,
              stream: `${aggregate.aggregateType}/${aggregate.aggregateId}`,
              version: aggregate.version,
              committedAt,
            });
          }
        }
      }
      // Pace to `rate` events/s per writer.
      const due = started + (written * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }
}

/** Tracks what the reader saw: counts per event id, and duplicates. */
export class Ledger {
  readonly counts = new Map<string, number>();
  readonly duplicates: string[] = [];
  #consumed = 0;

  constructor(private readonly reader: TopicReader) {}

  update(): void {
    const records = this.reader.records;
    for (; this.#consumed < records.length; this.#consumed += 1) {
      const id = (records[this.#consumed] as SeenRecord).headers[EventHeaders.eventId] ?? '';
      const count = (this.counts.get(id) ?? 0) + 1;
      this.counts.set(id, count);
      if (count === 2) this.duplicates.push(id);
    }
  }

  /** Waits until every event in `expected` was seen; fails on a duplicate or a timeout. */
  async expectAll(
    expected: readonly CommittedEvent[],
    rolledBack: ReadonlySet<string>,
    timeoutMs: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.update();
      expect(this.duplicates).toEqual([]);
      const missing = expected.filter((event) => !this.counts.has(event.eventId));
      if (missing.length === 0) break;
      if (Date.now() > deadline) {
        throw new Error(
          `${missing.length} of ${expected.length} committed events never arrived, e.g. ${missing[0]?.stream} v${missing[0]?.version}`,
        );
      }
      await sleep(100);
    }
    for (const id of rolledBack)
      expect(this.counts.has(id), `rolled-back event ${id} published`).toBe(false);
  }
}

/** Per aggregate, versions are exactly 1…n in partition order. */
export function assertOrder(
  records: readonly SeenRecord[],
  committed: readonly CommittedEvent[],
): void {
  const byPartition = new Map<string, SeenRecord[]>();
  for (const record of records) {
    const key = `${record.topic}/${record.partition}`;
    byPartition.set(key, [...(byPartition.get(key) ?? []), record]);
  }
  const versions = new Map<string, number[]>();
  for (const partition of byPartition.values()) {
    partition.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    for (const record of partition) {
      const stream = `${record.headers[EventHeaders.aggregateType]}/${record.key}`;
      versions.set(stream, [
        ...(versions.get(stream) ?? []),
        Number(record.headers[EventHeaders.aggregateVersion]),
      ]);
    }
  }
  const expected = new Map<string, number>();
  for (const event of committed)
    expected.set(event.stream, Math.max(expected.get(event.stream) ?? 0, event.version));
  expect(versions.size).toBe(expected.size);
  for (const [stream, seen] of versions) {
    // Contiguous and increasing in partition order: exactly 1, 2, …, n.
    expect(seen, stream).toEqual(
      Array.from({ length: expected.get(stream) ?? 0 }, (_, index) => index + 1),
    );
  }
}
