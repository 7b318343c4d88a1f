/**
 * The pipeline the matrix hits: capture and a projection runtime as supervised `tributary`
 * processes behind the proxies, concurrent writers, and after each fault the tally of Kafka
 * and the read model against the outbox table.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateOutbox } from '@tributary/outbox';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { superviseChild, type SupervisedChild } from './children.js';
import type { FaultStack } from './fault-stack.js';
import {
  readCommitted,
  readReadModel,
  startKafkaLedger,
  tally,
  type CommittedEvent,
  type KafkaLedger,
  type Tally,
} from './verifier.js';
import { AGGREGATE_TYPES, startWriters } from './writers.js';

const READ_MODEL_MODULE = fileURLToPath(new URL('./read-model.ts', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What a fault gets to act on. */
export interface ScenarioContext {
  readonly stack: FaultStack;
  /** Capture's slot name. */
  readonly slot: string;
  readonly capture: SupervisedChild;
  readonly projection: SupervisedChild;
  /** Runs a statement on the scenario's database, directly (not through the proxy). */
  query(sql: string, values?: unknown[]): Promise<pg.QueryResult>;
  /** Capture's Kafka transaction timeout in this scenario. */
  readonly transactionTimeoutMs: number;
  readonly log: (message: string) => void;
}

/** A fault of the matrix. */
export interface Fault {
  readonly name: string;
  /** Injects the fault and heals it; resolves at the moment it is healed. */
  inject(context: ScenarioContext): Promise<void>;
  /**
   * For a fault that must halt capture (the slot dropped): checks the halt and returns what
   * it saw; the scenario then skips the writers after the fault.
   */
  readonly expectsHalt?: (context: ScenarioContext) => Promise<string>;
}

/** Timings of a scenario. */
export interface ScenarioSettings {
  readonly writers: number;
  readonly eventsPerSecond: number;
  /** Writing between two faults. */
  readonly beforeMs: number;
  /** Writing after a fault is healed, before its tally. */
  readonly afterMs: number;
  /** How long everything may take to arrive after the writers stopped. */
  readonly settleTimeoutMs: number;
  readonly transactionTimeoutMs: number;
  readonly logDir: string;
}

/** One row of the matrix's table. */
export interface ScenarioResult {
  readonly fault: string;
  readonly events: number;
  readonly kafka: Tally;
  readonly readModel: Tally;
  /** From the heal until Kafka and the read model hold every event committed before it. */
  readonly recoveryMs: number | undefined;
  /** Process exits the supervisor saw (each restarted). */
  readonly captureExits: number;
  readonly projectionExits: number;
  /** For a halting fault: what the halt looked like. */
  readonly halt?: string;
  /** Something that makes the scenario fail besides the counts. */
  readonly problem?: string;
}

async function createNamespace(stack: FaultStack, namespace: string): Promise<void> {
  const admin = new pg.Client({ connectionString: stack.adminUrl });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await admin.query(`create database "${namespace}"`);
  } finally {
    await admin.end();
  }
}

async function createTopics(stack: FaultStack, topics: readonly string[]): Promise<void> {
  const admin = new Kafka({
    clientId: 'fault-matrix-admin',
    brokers: [...stack.kafkaBrokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((topic) => ({ topic, numPartitions: 3 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/** The running pipeline the faults hit, one after another. */
export interface Pipeline {
  readonly context: ScenarioContext;
  /** Injects `fault`, waits for recovery and tallies everything committed so far. */
  runFault(fault: Fault): Promise<ScenarioResult>;
  stop(): Promise<void>;
}

const ZERO: Tally = { seen: 0, lost: 0, duplicated: 0, outOfOrder: 0, phantom: 0 };

/**
 * Starts the pipeline: a fresh database and topic namespace on the fault stack, capture and
 * the projection runtime as supervised processes behind the proxies, the Kafka ledger and
 * the writers; resolves once events flow end to end. The faults then run in turn against
 * the same pipeline, so each costs its own duration, not a start-up; the tallies are
 * cumulative and each row shows what its fault added.
 */
export async function startPipeline(
  stack: FaultStack,
  settings: ScenarioSettings,
  log: (message: string) => void,
): Promise<Pipeline> {
  const namespace = `faults_${randomBytes(4).toString('hex')}`;
  await createNamespace(stack, namespace);
  const direct = stack.databaseUrl(namespace, 'direct');
  const proxied = stack.databaseUrl(namespace, 'proxy');
  await migrateOutbox({ connectionString: direct });
  const pool = new pg.Pool({ connectionString: direct, max: 2, connectionTimeoutMillis: 3_000 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const slot = `tributary_${namespace}`;
  // Slot and publication before the first write, so no event predates the slot.
  await pool.query(
    `create publication "${slot}" for table tributary.events with (publish = 'insert')`,
  );
  await pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  const topicPrefix = `${namespace}.events`;
  const topics = AGGREGATE_TYPES.map((type) => `${topicPrefix}.${type}`);
  await createTopics(stack, topics);

  const configFile = join(settings.logDir, `${namespace}.capture.json`);
  writeFileSync(
    configFile,
    JSON.stringify({ kafka: { transactionTimeoutMs: settings.transactionTimeoutMs } }),
  );
  const capture = superviseChild({
    label: `${namespace}.capture`,
    logDir: settings.logDir,
    args: ['capture', '--config', configFile, '--log-format', 'json'],
    env: {
      DATABASE_URL: proxied,
      KAFKA_BROKERS: stack.kafkaProxy.address,
      TRIBUTARY_CAPTURE_NAME: namespace,
      TRIBUTARY_TOPIC_PREFIX: topicPrefix,
      TRIBUTARY_TOPIC_PARTITIONS: '3',
      TRIBUTARY_CHECKPOINT_TOPIC: `${namespace}.checkpoints`,
      TRIBUTARY_BATCH_MAX_EVENTS: '200',
      TRIBUTARY_STANDBY_RETRY_MS: '200',
      TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
      TRIBUTARY_WAL_SENDER_TIMEOUT_MS: '5000',
      // Heartbeats arrive every second: 15 s of silence is a dead connection.
      TRIBUTARY_REPLICATION_SILENCE_TIMEOUT_MS: '15000',
    },
  });
  const projection = superviseChild({
    label: `${namespace}.project`,
    logDir: settings.logDir,
    args: [
      'project',
      '--module',
      READ_MODEL_MODULE,
      '--topic-prefix',
      topicPrefix,
      '--group-prefix',
      namespace,
      '--log-format',
      'json',
    ],
    env: {
      DATABASE_URL: proxied,
      KAFKA_BROKERS: stack.kafkaProxy.address,
      TRIBUTARY_PROJECTION_SESSION_TIMEOUT_MS: '20000',
      TRIBUTARY_PROJECTION_HEARTBEAT_INTERVAL_MS: '2000',
      TRIBUTARY_PROJECTION_MAX_WAIT_MS: '100',
      // A query sent into a black-holed connection fails after 10 s and the connection is
      // discarded (the default, 60 s, would outlast the matrix's settle time).
      TRIBUTARY_PROJECTION_QUERY_TIMEOUT_MS: '10000',
      // A consumer that stops fetching without an error (seen once after a broker SIGSTOP
      // on kafkajs) exits with PROJECTION_STALLED and is restarted well within the settle
      // time, instead of holding its lag until the row times out.
      TRIBUTARY_PROJECTION_STALL_TIMEOUT_MS: '60000',
    },
  });
  const context: ScenarioContext = {
    stack,
    slot,
    capture,
    projection,
    query: (sql, values) => pool.query(sql, values),
    transactionTimeoutMs: settings.transactionTimeoutMs,
    log,
  };
  const ledger = await startKafkaLedger(stack.kafkaBrokers, topics);
  const writers = startWriters({
    databaseUrl: direct,
    writers: settings.writers,
    eventsPerSecond: settings.eventsPerSecond,
    prefix: namespace,
  });
  let writing = true;
  const stop = async (): Promise<void> => {
    await writers.stop();
    await Promise.allSettled([capture.stop(), projection.stop()]);
    await ledger.stop();
    await pool
      .query(
        `select pg_drop_replication_slot(slot_name) from pg_replication_slots
          where slot_name = $1 and not active`,
        [slot],
      )
      .catch(() => undefined);
    await pool.end();
  };
  try {
    // The pipeline must be flowing end to end before the first fault.
    await until(async () => (await readReadModel(direct)).length > 0, 120_000, 'first events');
  } catch (error) {
    await stop();
    throw error;
  }

  let previous = { kafka: ZERO, readModel: ZERO, events: 0, captureExits: 0, projectionExits: 0 };
  const minus = (now: Tally, before: Tally): Tally => ({
    seen: now.seen - before.seen,
    lost: Math.max(0, now.lost - before.lost),
    duplicated: now.duplicated - before.duplicated,
    outOfOrder: now.outOfOrder - before.outOfOrder,
    phantom: now.phantom - before.phantom,
  });
  return {
    context,
    stop,
    async runFault(fault) {
      await sleep(settings.beforeMs);
      let halt: string | undefined;
      if (fault.expectsHalt !== undefined) {
        // The slot is dropped while capture idles on a caught-up stream: what was committed
        // before is exactly what must be in Kafka, and capture must halt, not start over.
        capture.setRestart(false);
        await writers.stop();
        writing = false;
        await settle(direct, ledger, settings.settleTimeoutMs);
      }
      log(`${fault.name}: inject`);
      await fault.inject(context);
      const healedAt = Date.now();
      log(`${fault.name}: healed`);
      if (fault.expectsHalt !== undefined) halt = await fault.expectsHalt(context);

      const beforeHeal = await readCommittedRetrying(direct);
      const recoveryMs = await waitForAll(
        direct,
        ledger,
        new Set(beforeHeal.map((event) => event.eventId)),
        healedAt,
        settings.settleTimeoutMs,
      );
      if (writing) await sleep(settings.afterMs);
      // Everything committed up to now must arrive; the writers go on for the next fault.
      const committed = await readCommittedRetrying(direct);
      const problem = await settle(direct, ledger, settings.settleTimeoutMs, committed).then(
        () => undefined,
        (error: unknown) => String(error),
      );
      const rolledBack = writers.rolledBack;
      const kafka = tally(committed, [...ledger.partitions.values()], rolledBack);
      const readModel = tally(committed, [await readReadModel(direct)], rolledBack);
      const result: ScenarioResult = {
        fault: fault.name,
        events: committed.length - previous.events,
        kafka: minus(kafka, previous.kafka),
        readModel: minus(readModel, previous.readModel),
        recoveryMs,
        captureExits: capture.exits.length - previous.captureExits,
        projectionExits: projection.exits.length - previous.projectionExits,
        ...(halt === undefined ? {} : { halt }),
        ...(problem === undefined ? {} : { problem }),
      };
      previous = {
        kafka,
        readModel,
        events: committed.length,
        captureExits: capture.exits.length,
        projectionExits: projection.exits.length,
      };
      return result;
    },
  };
}

async function until(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

async function readCommittedRetrying(
  url: string,
): Promise<Awaited<ReturnType<typeof readCommitted>>> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await readCommitted(url);
    } catch (error) {
      if (attempt > 60) throw error;
      await sleep(500);
    }
  }
}

/** Milliseconds from `healedAt` until both sides hold `ids`; undefined if not within the timeout. */
async function waitForAll(
  url: string,
  ledger: KafkaLedger,
  ids: ReadonlySet<string>,
  healedAt: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const inKafka = (): boolean => [...ids].every((id) => ledger.ids.has(id));
  const inReadModel = async (): Promise<boolean> => {
    const applied = new Set((await readReadModel(url)).map((event) => event.eventId));
    return [...ids].every((id) => applied.has(id));
  };
  try {
    await until(async () => inKafka() && (await inReadModel()), timeoutMs, 'recovery');
    return Date.now() - healedAt;
  } catch {
    return undefined;
  }
}

/** Waits until Kafka and the read model hold every event of `expected` (default: all committed). */
async function settle(
  url: string,
  ledger: KafkaLedger,
  timeoutMs: number,
  expected?: readonly CommittedEvent[],
): Promise<void> {
  let missing = { kafka: 0, readModel: 0, of: 0 };
  try {
    await until(
      async () => {
        const committed = expected ?? (await readCommitted(url));
        const applied = new Set((await readReadModel(url)).map((event) => event.eventId));
        missing = {
          kafka: committed.filter((event) => !ledger.ids.has(event.eventId)).length,
          readModel: committed.filter((event) => !applied.has(event.eventId)).length,
          of: committed.length,
        };
        return missing.kafka === 0 && missing.readModel === 0;
      },
      timeoutMs,
      'every committed event in Kafka and in the read model',
    );
  } catch (error) {
    throw new Error(
      `${String(error)}: of ${missing.of} committed events, ${missing.kafka} missing in Kafka, ${missing.readModel} in the read model`,
      { cause: error },
    );
  }
}
