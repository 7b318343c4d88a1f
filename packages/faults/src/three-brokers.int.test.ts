/**
 * Issue 15, a three-broker cluster: `tributary capture` and two `tributary project`
 * processes (one consumer group sharing the partitions) run against three KRaft nodes
 * (replication factor 3, min.insync.replicas 2, acks=all) under concurrent writers, while
 * the test SIGKILLs, one after another, the leader of an event topic partition, the
 * transaction coordinator of the capturer's transactional id and the group coordinator of
 * the projection's group, waiting each time until another node has taken the role over and
 * then restarting the killed node. At the end every committed event is in Kafka once and in
 * the read model once, per-aggregate order kept, no rolled-back event visible. Before that, a
 * shorter check kills the group coordinator under an in-process @platformatic/kafka consumer
 * (three-brokers-coordinator.ts).
 *
 * The cluster is its own (harness/cluster-stack.ts); PostgreSQL is the shared test stack's
 * (a database of its own), which this test never stops.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transactionalIdFor, migrateOutbox } from '@tributary/outbox';
import { useIntegrationEnv } from '@tributary/testing';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { superviseChild, type SupervisedChild } from './harness/children.js';
import { startClusterStack, type ClusterStack } from './harness/cluster-stack.js';
import {
  readCommitted,
  readReadModel,
  startKafkaLedger,
  tally,
  type KafkaLedger,
} from './harness/verifier.js';
import { AGGREGATE_TYPES, startWriters, type Writers } from './harness/writers.js';
import { coordinatorDeath } from './three-brokers-coordinator.js';

const log = (message: string): void => {
  process.stderr.write(`[three brokers] ${message}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const READ_MODEL_MODULE = fileURLToPath(new URL('./harness/read-model.ts', import.meta.url));
const LOG_DIR = mkdtempSync(join(tmpdir(), 'tributary-brokers-'));
/** The children's Kafka client (TRIBUTARY_KAFKA_CLIENT=platformatic runs the same test on it). */
const kafkaClient = process.env['TRIBUTARY_KAFKA_CLIENT'] ?? 'kafkajs';
/**
 * The second projection process runs on the other client, so every run sees the group
 * coordinator die under a consumer of each library (they share the group, as in a rolling
 * switch of clients): @platformatic/kafka 1.35 used to crash there.
 */
const otherClient = kafkaClient === 'kafkajs' ? 'platformatic' : 'kafkajs';

async function until(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await condition().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; logs in ${LOG_DIR}`);
    await sleep(250);
  }
}

const env = await useIntegrationEnv({ label: 'brokers' });
const namespace = env.namespace;
const topicPrefix = `${namespace}.events`;
const topics = AGGREGATE_TYPES.map((type) => `${topicPrefix}.${type}`);
const groupId = `${namespace}.fault_matrix.v1`;
const transactionalId = transactionalIdFor(namespace);

let cluster: ClusterStack | undefined;
let writers: Writers | undefined;
let ledger: KafkaLedger | undefined;
const children: SupervisedChild[] = [];

beforeAll(async () => {
  cluster = await startClusterStack(log);
  await migrateOutbox({ connectionString: env.databaseUrl });
  const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });
  const slot = `tributary_${namespace}`;
  // Slot and publication before the first write, so no event predates the slot.
  await pool.query(
    `create publication "${slot}" for table tributary.events with (publish = 'insert')`,
  );
  await pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
  await pool.end();
}, 240_000);

afterAll(async () => {
  await writers?.stop();
  await Promise.allSettled(children.map((child) => child.stop()));
  await ledger?.stop();
  await cluster?.stop();
  log(`logs: ${LOG_DIR}`);
}, 120_000);

describe(`three brokers (${kafkaClient}, second projection on ${otherClient})`, () => {
  it('keeps a @platformatic/kafka consumer consuming and committing when its group coordinator dies, with no uncaught error', async () => {
    const outcome = await coordinatorDeath(cluster as ClusterStack);
    log(`${outcome.figures}; warnings: ${outcome.warnings.join(' | ')}`);
    expect(outcome.uncaught).toEqual([]);
    expect(outcome.missing).toEqual([]);
    expect(outcome.commitsAfterMove).toBeGreaterThan(0);
  }, 240_000);

  it('keeps every committed event once in Kafka and once in the read model, in order, while the partition leader, the transaction coordinator and the group coordinator die', async () => {
    const stack = cluster as ClusterStack;
    const brokers = stack.brokers.join(',');
    // Every topic the processes create: three replicas, two of them in sync for a write.
    const replicated = {
      TRIBUTARY_TOPIC_REPLICATION_FACTOR: '3',
      TRIBUTARY_TOPIC_MIN_INSYNC_REPLICAS: '2',
      TRIBUTARY_KAFKA_CLIENT: kafkaClient,
    };
    const configFile = join(LOG_DIR, 'capture.json');
    writeFileSync(configFile, JSON.stringify({ kafka: { transactionTimeoutMs: 20_000 } }));
    children.push(
      superviseChild({
        label: 'capture',
        logDir: LOG_DIR,
        args: ['capture', '--config', configFile, '--log-format', 'json'],
        env: {
          ...replicated,
          DATABASE_URL: env.databaseUrl,
          KAFKA_BROKERS: brokers,
          TRIBUTARY_CAPTURE_NAME: namespace,
          TRIBUTARY_TOPIC_PREFIX: topicPrefix,
          TRIBUTARY_TOPIC_PARTITIONS: '3',
          TRIBUTARY_CHECKPOINT_TOPIC: `${namespace}.checkpoints`,
          TRIBUTARY_BATCH_MAX_EVENTS: '200',
          TRIBUTARY_STANDBY_RETRY_MS: '200',
          TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
        },
      }),
    );
    for (const [label, client] of [
      ['project-1', kafkaClient],
      ['project-2', otherClient],
    ] as const) {
      children.push(
        superviseChild({
          label,
          logDir: LOG_DIR,
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
            ...replicated,
            DATABASE_URL: env.databaseUrl,
            KAFKA_BROKERS: brokers,
            TRIBUTARY_PROJECTION_SESSION_TIMEOUT_MS: '15000',
            TRIBUTARY_PROJECTION_HEARTBEAT_INTERVAL_MS: '1000',
            TRIBUTARY_KAFKA_CLIENT: client,
          },
        }),
      );
    }
    writers = startWriters({
      databaseUrl: env.databaseUrl,
      writers: 3,
      eventsPerSecond: 150,
      prefix: namespace,
    });

    // Capture creates the topics (with the settings above) on its first events.
    const admin = new Kafka({
      clientId: 'three-brokers-check',
      brokers: [...stack.brokers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10 },
    }).admin();
    await admin.connect();
    try {
      await until(
        async () => {
          const existing = new Set(await admin.listTopics());
          return topics.every((topic) => existing.has(topic));
        },
        120_000,
        'capture to create the event topics',
      );
      const metadata = await admin.fetchTopicMetadata({ topics });
      for (const topic of metadata.topics) {
        expect(topic.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3]);
      }
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['min.insync.replicas'],
        })),
      });
      for (const resource of described.resources) {
        expect(
          resource.configEntries.find((e) => e.configName === 'min.insync.replicas')?.configValue,
        ).toBe('2');
      }
    } finally {
      await admin.disconnect();
    }
    ledger = await startKafkaLedger(stack.brokers, topics);
    const startedAt = Date.now();
    await until(
      async () => (await readReadModel(env.databaseUrl)).length > 0,
      120_000,
      'the first events in the read model',
    );
    log(`pipeline flowing after ${Date.now() - startedAt} ms`);

    const faults = [
      {
        name: `leader of ${topics[0]}/0`,
        find: () => stack.partitionLeader(topics[0] as string, 0),
      },
      {
        name: `transaction coordinator of ${transactionalId}`,
        find: () => stack.coordinator('transaction', transactionalId),
      },
      { name: `group coordinator of ${groupId}`, find: () => stack.coordinator('group', groupId) },
    ];
    const figures: string[] = [];
    for (const fault of faults) {
      await sleep(3_000);
      const victim = await fault.find();
      const killedAt = Date.now();
      await stack.kill(victim);
      // The role must really move before the node comes back: otherwise nothing was tested.
      const movedMs = await until(
        async () => (await fault.find()) !== victim,
        60_000,
        `the ${fault.name} to move off node ${victim}`,
      );
      const successor = await fault.find();
      await sleep(2_000);
      await stack.restart(victim);
      const line = `${fault.name}: node ${victim} SIGKILLed, role on node ${successor} after ${movedMs} ms, node back after ${Date.now() - killedAt} ms`;
      figures.push(line);
      log(line);
    }
    await sleep(3_000);
    await writers.stop();

    const committed = await readCommitted(env.databaseUrl);
    const settledMs = await until(
      async () => {
        const applied = new Set((await readReadModel(env.databaseUrl)).map((e) => e.eventId));
        return committed.every(
          (event) => ledger?.ids.has(event.eventId) === true && applied.has(event.eventId),
        );
      },
      120_000,
      'every committed event in Kafka and in the read model',
    ).catch(async (error: unknown) => {
      // The tallies say which side is wrong.
      const seen = tally(
        committed,
        [...(ledger?.partitions.values() ?? [])],
        writers?.rolledBack ?? new Set(),
      );
      const applied = tally(
        committed,
        [await readReadModel(env.databaseUrl)],
        writers?.rolledBack ?? new Set(),
      );
      throw new Error(
        `${String(error)}; kafka ${JSON.stringify(seen)}; read model ${JSON.stringify(applied)}`,
      );
    });
    await sleep(2_000);
    const kafka = tally(committed, [...ledger.partitions.values()], writers.rolledBack);
    const readModel = tally(committed, [await readReadModel(env.databaseUrl)], writers.rolledBack);
    const exits = children.map((child) => `${child.label} ${child.exits.length}`).join(', ');
    log(
      `${committed.length} committed events (${writers.rolledBack.size} rolled back); settled ${settledMs} ms after the writers stopped; ` +
        `kafka ${JSON.stringify(kafka)}; read model ${JSON.stringify(readModel)}; process exits: ${exits}`,
    );
    expect(figures).toHaveLength(3);
    // A broker failure is for the clients to ride out: no process may die of it.
    expect(
      children.flatMap((child) =>
        child.exits.map((exit) => `${child.label} exited (${exit.code}): ${exit.tail.join(' | ')}`),
      ),
    ).toEqual([]);
    expect(committed.length).toBeGreaterThan(1_000);
    expect(writers.rolledBack.size).toBeGreaterThan(0);
    for (const side of [kafka, readModel]) {
      expect(side).toEqual({
        seen: committed.length,
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
        phantom: 0,
      });
    }
  }, 600_000);
});
