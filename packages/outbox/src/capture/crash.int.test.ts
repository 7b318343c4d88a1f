/**
 * Crash tests: the capturer runs as a child process (`tributary capture`) and is SIGKILLed
 * at named points and at random times while concurrent writers commit, roll back and
 * write multi-aggregate transactions. After every restart a read_committed reader must
 * see every event committed before that restart exactly once, and never an event of a
 * rolled-back transaction; at the end, per aggregate, versions are contiguous and
 * increasing in partition order. A paused zombie resumed after its successor took over
 * must get nothing committed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventHeaders, uuidV7, type StreamAppend } from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import { readTopics, type SeenRecord, type TopicReader } from './kafka/kafka-reader.test.support.js';

const env = await useIntegrationEnv({ label: 'crash' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 8 });
const children = new Set<ChildProcess>();
const loads: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(loads.map((load) => load.stop()));
  for (const child of children) child.kill('SIGKILL');
  await store.close();
  await pool.end();
});

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../cli/src/run.ts', import.meta.url));
const LOG_DIR = mkdtempSync(join(tmpdir(), 'tributary-crash-'));
const TYPES = ['Account', 'Transfer', 'Order'] as const;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const random = (min: number, max: number): number => min + Math.floor(Math.random() * (max - min));

interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tributary capture` from the sources, configured through environment variables. */
function startCapturer(label: string, name: string, extra: Record<string, string> = {}): Child {
  const logFile = join(LOG_DIR, `${label}.log`);
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CLI, 'capture', '--log-format', 'json'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: env.databaseUrl,
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        TRIBUTARY_CAPTURE_NAME: name,
        TRIBUTARY_TOPIC_PREFIX: env.topic(name),
        TRIBUTARY_CHECKPOINT_TOPIC: env.topic('checkpoints'),
        TRIBUTARY_BATCH_MAX_EVENTS: '400',
        TRIBUTARY_STANDBY_RETRY_MS: '200',
        TRIBUTARY_PROGRESS_INTERVAL_MS: '2000',
        TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
        ...extra,
      },
    },
  );
  children.add(child);
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString();
    appendFileSync(logFile, text);
    lines.push(...text.split('\n').filter((line) => line !== ''));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { process: child, lines, exited };
}

/** The slot and publication exist before the first write, so no event predates the slot. */
async function prepareSlot(name: string): Promise<void> {
  await pool.query(
    `create publication "tributary_${name}" for table tributary.events with (publish = 'insert')`,
  );
  await pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
    `tributary_${name}`,
  ]);
}

interface CommittedEvent {
  readonly eventId: string;
  readonly stream: string;
  readonly version: number;
  readonly committedAt: number;
}

/** Concurrent writers: single- and multi-aggregate transactions, ~10 % rolled back. */
class Load {
  constructor(private readonly prefix: string) {}

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
      const client = await pool.connect();
      try {
        await client.query('begin');
        await store.withTransaction(client).appendMany(appends);
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
class Ledger {
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

function assertOrder(records: readonly SeenRecord[], committed: readonly CommittedEvent[]): void {
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

const topicsOf = (name: string): string[] => TYPES.map((type) => env.topic(`${name}.${type}`));

describe('capture under crashes', () => {
  it('delivers every committed event exactly once across named and random SIGKILLs under concurrent writers', async () => {
    const name = env.name('main');
    await prepareSlot(name);
    const load = new Load('main');
    loads.push(load);
    load.start(4, 450, 1_000_000);
    await load.until(300);
    const first = startCapturer('bootstrap', name);
    const reader = await readTopics(env.kafkaBrokers, topicsOf(name));
    const ledger = new Ledger(reader);
    first.process.kill('SIGKILL');
    await first.exited;

    // Named kill points interleaved with random kills, so the restart after each named
    // crash is verified before the next crash.
    const schedule = [
      'produce',
      'random',
      'after-commit',
      'random',
      'after-ack',
      ...Array.from({ length: 19 }, () => 'random'),
    ];
    const outcomes: string[] = [];
    for (const [cycle, kind] of schedule.entries()) {
      const restartedAt = Date.now();
      const extra = kind === 'random' ? {} : { TRIBUTARY_CRASH_AT: `${kind}:2` };
      const child = startCapturer(`cycle-${cycle}-${kind}`, name, extra);
      // Usually the restarted capturer must first catch up (after a named crash always);
      // sometimes it is killed while still starting or replaying, and the next cycle
      // verifies instead.
      const afterNamed = cycle > 0 && schedule[cycle - 1] !== 'random';
      const verify = kind === 'random' && (afterNamed || Math.random() < 0.75);
      if (verify) {
        // After the restart, everything committed before it arrives exactly once.
        await ledger.expectAll(
          load.committed.filter((event) => event.committedAt <= restartedAt),
          load.rolledBack,
          60_000,
        );
      }
      if (kind === 'random') {
        // Killed during live streaming after catch-up, or anywhere from startup (slot,
        // fencing, checkpoint read) through replay when not waiting for catch-up.
        await Promise.race([sleep(verify ? random(0, 1_500) : random(700, 3_000)), child.exited]);
        child.process.kill('SIGKILL');
      }
      const exit = await child.exited;
      expect(
        exit.signal,
        `cycle ${cycle} (${kind}) exited with ${exit.code}; logs in ${LOG_DIR}`,
      ).toBe('SIGKILL');
      if (kind !== 'random') {
        expect(child.lines.some((line) => line.includes(`crash point ${kind} #2`))).toBe(true);
      }
      outcomes.push(kind);
    }
    expect(outcomes).toHaveLength(24);

    await load.until(20_000);
    await load.stop();
    const final = startCapturer('final', name);
    await ledger.expectAll(load.committed, load.rolledBack, 120_000);
    await sleep(500);
    ledger.update();
    expect(ledger.duplicates).toEqual([]);
    expect(load.committed.length).toBeGreaterThanOrEqual(20_000);
    expect(load.rolledBackTransactions).toBeGreaterThan(0);
    expect(load.multiAggregateTransactions).toBeGreaterThan(0);
    expect(reader.records.length).toBe(load.committed.length);
    assertOrder(reader.records, load.committed);

    // SIGTERM: the in-flight transaction finishes, the LSN is confirmed, exit code 0.
    final.process.kill('SIGTERM');
    const exit = await final.exited;
    expect(exit.code).toBe(0);
    expect(final.lines.some((line) => line.includes('drained'))).toBe(true);
    await reader.stop();
  }, 480_000);

  it('gives a paused zombie not a single committed record after a standby took over, then makes it a standby', async () => {
    const name = env.name('zombie');
    await prepareSlot(name);
    // A pauses itself (SIGSTOP) in its 3rd Kafka transaction, after sending records and
    // before committing. Its walsender times out after 2 s without replies.
    const zombie = startCapturer('zombie-a', name, {
      TRIBUTARY_PAUSE_AT: 'produce:3',
      TRIBUTARY_WAL_SENDER_TIMEOUT_MS: '2000',
    });
    const waitForLine = async (child: Child, text: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while (!child.lines.some((line) => line.includes(text))) {
        if (Date.now() > deadline) throw new Error(`no "${text}" line; logs in ${LOG_DIR}`);
        await sleep(50);
      }
    };
    await waitForLine(zombie, 'acquired replication slot');
    const standby = startCapturer('zombie-b', name);
    await waitForLine(standby, 'standby');
    // Only now the load: A reaches its pause point while B is certainly waiting.
    const load = new Load('zombie');
    loads.push(load);
    load.start(2, 2_000, 3_000);
    await load.until(3_000);
    await load.stop();
    const reader = await readTopics(env.kafkaBrokers, topicsOf(name));
    const ledger = new Ledger(reader);
    await ledger.expectAll(load.committed, load.rolledBack, 60_000);
    expect(standby.lines.some((line) => line.includes('standby'))).toBe(true);
    expect(zombie.lines.some((line) => line.includes('crash point produce #3: SIGSTOP'))).toBe(
      true,
    );

    // B took over and published everything; now the zombie wakes up and tries to commit.
    zombie.process.kill('SIGCONT');
    const deadline = Date.now() + 20_000;
    while (!zombie.lines.some((line) => line.includes('restarting from the Kafka checkpoint'))) {
      if (Date.now() > deadline) throw new Error(`zombie never noticed; logs in ${LOG_DIR}`);
      await sleep(100);
    }
    // More events, published by B alone.
    const more = new Load('more');
    more.start(1, 2_000, 200);
    await more.until(200);
    await more.stop();
    await ledger.expectAll([...load.committed, ...more.committed], load.rolledBack, 30_000);
    await sleep(1_000);
    ledger.update();
    expect(ledger.duplicates).toEqual([]);
    expect(reader.records.length).toBe(load.committed.length + more.committed.length);
    // The zombie's commit failed and it went back to waiting for the slot.
    const failure = zombie.lines.find((line) =>
      line.includes('restarting from the Kafka checkpoint'),
    );
    expect(failure).toMatch(/CAPTURE_FENCED|CAPTURE_KAFKA_INDETERMINATE|CAPTURE_STREAM_ENDED/);
    await reader.stop();
    zombie.process.kill('SIGKILL');
    standby.process.kill('SIGKILL');
    await Promise.all([zombie.exited, standby.exited]);
  }, 180_000);
});
