/**
 * Test support of the big-source-transaction tests and of `npm run test:big-transaction`:
 * one source transaction of N events written with a single INSERT … SELECT, `tributary
 * capture` as a child process (so it can be SIGKILLed and its peak RSS read), and a lean
 * read_committed verifier that keeps one byte per event instead of the records, so a
 * million events fit in the test process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventHeaders, headerValue } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import type pg from 'pg';

/** The aggregate type of every event of the big transaction. */
export const BIG_TYPE = 'Ledger';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../cli/src/run.ts', import.meta.url));

/** Where a capture child connects and what it is called. */
export interface CaptureChildTarget {
  readonly databaseUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly name: string;
  readonly topicPrefix: string;
  readonly checkpointTopic: string;
  /** Directory of the children's log files. */
  readonly logDir: string;
}

/** A running `tributary capture` child. */
export interface CaptureChild {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The child's peak resident set so far (VmHWM), in MiB; `undefined` once it is gone. */
  peakRssMiB(): number | undefined;
}

/** Starts `tributary capture` from the sources, configured through environment variables. */
export function startCaptureChild(
  target: CaptureChildTarget,
  label: string,
  extra: Record<string, string> = {},
): CaptureChild {
  const logFile = join(target.logDir, `${label}.log`);
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CLI, 'capture', '--log-format', 'json'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: target.databaseUrl,
        KAFKA_BROKERS: target.kafkaBrokers.join(','),
        TRIBUTARY_CAPTURE_NAME: target.name,
        TRIBUTARY_TOPIC_PREFIX: target.topicPrefix,
        TRIBUTARY_CHECKPOINT_TOPIC: target.checkpointTopic,
        TRIBUTARY_STANDBY_RETRY_MS: '200',
        TRIBUTARY_PROGRESS_INTERVAL_MS: '2000',
        TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
        ...extra,
      },
    },
  );
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString();
    appendFileSync(logFile, text);
    lines.push(...text.split('\n').filter((line) => line !== ''));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    process: child,
    lines,
    exited,
    peakRssMiB: () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kib = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
        return kib === undefined ? undefined : Number(kib) / 1024;
      } catch {
        return undefined;
      }
    },
  };
}

/** The slot and publication exist before the write, so the transaction is after the slot. */
export async function prepareSlot(pool: pg.Pool, name: string): Promise<void> {
  await pool.query(
    `create publication "tributary_${name}" for table tributary.events with (publish = 'insert')`,
  );
  await pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
    `tributary_${name}`,
  ]);
}

/**
 * Commits ONE source transaction of `events` outbox rows over `aggregates` aggregates of
 * type {@link BIG_TYPE}: row i belongs to aggregate i mod `aggregates` at version
 * ⌊i / aggregates⌋ + 1, with a ~200-byte payload carrying i. Rows are inserted in i order,
 * so the WAL order (the transaction sequence) is i.
 */
export async function writeBigTransaction(
  pool: pg.Pool,
  options: { readonly events: number; readonly aggregates: number; readonly prefix: string },
): Promise<void> {
  await pool.query(
    `insert into tributary.events
       (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, metadata, occurred_at)
     select gen_random_uuid(), $1, $2 || (i % $4), i / $4 + 1, 'Booked',
            jsonb_build_object('i', i, 'padding', repeat('x', 180)), '{}'::jsonb, now()
     from generate_series(0, $3 - 1) as i
     order by i`,
    [BIG_TYPE, options.prefix, options.events, options.aggregates],
  );
}

/** What the verifier counted. */
export interface BigTransactionTally {
  /** Records read. */
  readonly records: number;
  /** Distinct events (by transaction sequence) read. */
  readonly distinct: number;
  /** Events of the transaction never read. */
  readonly lost: number;
  /** Records read more than once (at different offsets). */
  readonly duplicated: number;
  /** Records whose sequence is below an earlier one in the same partition. */
  readonly outOfOrder: number;
  /** Distinct commit LSNs seen (one source transaction: 1). */
  readonly commitLsns: number;
}

/** A running read_committed reader of the big transaction's topic. */
export interface BigTransactionReader {
  tally(): BigTransactionTally;
  /** Waits until `predicate(tally)` holds; throws after `timeoutMs`. */
  waitFor(predicate: (tally: BigTransactionTally) => boolean, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Reads `topic` from the beginning, read_committed, counting by `tributary.tx_seq`. */
export async function readBigTransaction(
  brokers: readonly string[],
  topic: string,
  events: number,
): Promise<BigTransactionReader> {
  const kafka = createKafkajsClient({ clientId: 'big-transaction-reader', brokers });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 120_000;
    while (!(await admin.listTopics()).includes(topic)) {
      if (Date.now() > deadline) throw new Error(`topic ${topic} never appeared`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.disconnect();
  }
  const seen = new Uint8Array(events);
  const lastSequence = new Map<number, number>();
  const lastOffset = new Map<number, bigint>();
  const commitLsns = new Set<string>();
  let records = 0;
  let distinct = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  const consumer = kafka.consumer({
    groupId: `big-transaction-${Date.now()}-${Math.random()}`,
    maxWaitTimeMs: 100,
  });
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run({
    eachBatch: (batch) => {
      for (const record of batch.records) {
        // A rebalance may hand the same offsets again: those are not the capturer's.
        const previousOffset = lastOffset.get(record.partition);
        if (previousOffset !== undefined && record.offset <= previousOffset) continue;
        lastOffset.set(record.partition, record.offset);
        records += 1;
        const sequence = Number(headerValue(record.headers, EventHeaders.transactionSequence));
        commitLsns.add(headerValue(record.headers, EventHeaders.commitLsn) ?? '');
        const previous = lastSequence.get(record.partition);
        if (previous !== undefined && sequence < previous) outOfOrder += 1;
        lastSequence.set(record.partition, sequence);
        if (!Number.isInteger(sequence) || sequence < 0 || sequence >= events) continue;
        if (seen[sequence] === 1) duplicated += 1;
        else {
          seen[sequence] = 1;
          distinct += 1;
        }
      }
      const last = batch.records.at(-1);
      if (last !== undefined) batch.resolveOffset(last.offset);
      return Promise.resolve();
    },
  });
  const tally = (): BigTransactionTally => ({
    records,
    distinct,
    lost: events - distinct,
    duplicated,
    outOfOrder,
    commitLsns: commitLsns.size,
  });
  return {
    tally,
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(tally())) {
        if (Date.now() > deadline) {
          throw new Error(`reader timed out after ${timeoutMs} ms: ${JSON.stringify(tally())}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop: () => consumer.disconnect(),
  };
}
