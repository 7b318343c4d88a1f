/**
 * The first check of three-brokers.int.test.ts: the group coordinator dies under a
 * @platformatic/kafka consumer. Version 1.35.0 keeps the coordinator's node id for the
 * consumer's life; once the dead node had left the cluster metadata, the consumer's next group
 * operation threw an uncaught `TypeError` (reading 'host' of the missing broker, in
 * `network/connection-pool.js`) that ended the process. The adapter must ride it out: the
 * consumer goes on receiving and committing through the new coordinator while the old one is
 * still down, and no error escapes. In-process, on a topic and group of its own, so that the
 * kill is certain to hit this consumer's coordinator.
 */
import { randomUUID } from 'node:crypto';
import type { KafkaBatch, Logger } from '@tributary/core';
import { createPlatformaticKafkaClient } from '@tributary/platformatic-kafka';
import type { ClusterStack } from './harness/cluster-stack.js';

/** What {@link coordinatorDeath} saw. */
export interface CoordinatorDeathOutcome {
  /** Errors that escaped every handler while the coordinator was down. */
  readonly uncaught: readonly string[];
  /** The records sent after the kill that the consumer did not receive. */
  readonly missing: readonly string[];
  /** Offset commits that succeeded after the coordinator had moved. */
  readonly commitsAfterMove: number;
  /** What the adapter logged at warn level or above. */
  readonly warnings: readonly string[];
  readonly figures: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => Promise<boolean>, ms: number): Promise<number | undefined> {
  const started = Date.now();
  for (;;) {
    if (await condition().catch(() => false)) return Date.now() - started;
    if (Date.now() - started > ms) return undefined;
    await sleep(200);
  }
}

/**
 * Consumes a topic of three replicas in a group of its own, SIGKILLs the group's coordinator,
 * sends more records once the role has moved and the dead node has had time to leave the
 * metadata, waits for them and a successful commit, then restarts the node.
 */
export async function coordinatorDeath(stack: ClusterStack): Promise<CoordinatorDeathOutcome> {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => warnings.push(message),
    error: (message) => warnings.push(message),
  };
  const uncaught: string[] = [];
  const onUncaught = (error: unknown): void => {
    uncaught.push(error instanceof Error ? (error.stack ?? error.message) : String(error));
  };
  const client = createPlatformaticKafkaClient({
    clientId: 'coordinator-check',
    brokers: [...stack.brokers],
    logger,
  });
  const suffix = randomUUID().slice(0, 8);
  const topic = `coordinator.${suffix}`;
  const groupId = `coordinator.${suffix}.group`;
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics([
    { topic, partitions: 3, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
  ]);
  await admin.disconnect();
  const producer = client.producer();
  await producer.connect();
  const send = (values: readonly string[]): Promise<void> =>
    producer.send([{ topic, messages: values.map((value) => ({ key: value, value })) }]);
  const seen = new Set<string>();
  let commits = 0;
  const consumer = client.consumer({
    groupId,
    maxWaitTimeMs: 200,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
  });
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  await consumer.run({
    eachBatch: async (batch: KafkaBatch) => {
      for (const record of batch.records)
        seen.add(Buffer.from(record.value ?? new Uint8Array()).toString());
      const last = batch.records[batch.records.length - 1];
      if (last === undefined) return;
      batch.resolveOffset(last.offset);
      // As the projection runtime: a failed commit is logged, not fatal.
      await consumer
        .commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: last.offset + 1n },
        ])
        .then(() => (commits += 1))
        .catch(() => undefined);
    },
  });
  let killed: number | undefined;
  process.on('uncaughtException', onUncaught);
  try {
    await send(['before-1', 'before-2', 'before-3']);
    if ((await until(() => Promise.resolve(seen.size === 3), 60_000)) === undefined)
      throw new Error('the consumer did not receive the first records within 60 s');
    const coordinator = await stack.coordinator('group', groupId);
    killed = coordinator;
    await stack.kill(coordinator);
    const movedMs = await until(
      async () => (await stack.coordinator('group', groupId)) !== coordinator,
      60_000,
    );
    if (movedMs === undefined)
      throw new Error(`the group coordinator did not move off node ${coordinator} within 60 s`);
    // The role moved because the controller fenced the node, which drops it from the
    // metadata; the consumer refreshes its metadata every 5 s and heartbeats every 0.5 s.
    await sleep(6_000);
    const commitsBefore = commits;
    const after = ['after-1', 'after-2', 'after-3', 'after-4', 'after-5', 'after-6'];
    await send(after);
    const resumedMs = await until(
      () => Promise.resolve(after.every((value) => seen.has(value)) && commits > commitsBefore),
      60_000,
    );
    return {
      uncaught,
      missing: after.filter((value) => !seen.has(value)),
      commitsAfterMove: commits - commitsBefore,
      warnings,
      figures: `group coordinator node ${coordinator} of a @platformatic/kafka consumer SIGKILLed, role moved after ${movedMs} ms, consuming and committing again ${String(resumedMs)} ms after the next send`,
    };
  } finally {
    process.off('uncaughtException', onUncaught);
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    // The node comes back for the test that follows on this cluster.
    if (killed !== undefined) await stack.restart(killed);
  }
}
