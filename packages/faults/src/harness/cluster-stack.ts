/**
 * A three-node Kafka cluster for the broker-failure test, started by the project's launcher
 * (`startStack` with `kafka.brokers: 3`): never the shared single-broker test stack, whose
 * broker other files use while these nodes are killed. A healthy cluster from `npm run
 * stack:up -- --brokers 3` is reused (and its state file kept up to date with the new pids
 * after each restart), so a developer pays for the start once.
 *
 * It also answers the questions the test asks before each kill: which node leads a
 * partition, and which node is the transaction or group coordinator of an id (the real
 * FindCoordinator request, through @platformatic/kafka's admin client).
 */
import { Admin, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import {
  checkStackHealth,
  clusterStackOptions,
  killKafkaNode,
  readState,
  removeState,
  resolveStackConfig,
  startKafkaNode,
  startStack,
  stateFile,
  stopStack,
  writeState,
  type StackState,
} from '@tributary/testing';
import { Kafka, logLevel } from 'kafkajs';

/** A running three-node cluster and its controls. */
export interface ClusterStack {
  readonly brokers: readonly string[];
  /** Node id of the leader of `topic`'s partition `partition`. */
  partitionLeader(topic: string, partition: number): Promise<number>;
  /** Node id of the coordinator of a transactional id or a consumer group. */
  coordinator(kind: 'transaction' | 'group', key: string): Promise<number>;
  /** SIGKILLs one node. */
  kill(nodeId: number): Promise<void>;
  /** Starts a killed node again and waits until all three brokers are registered. */
  restart(nodeId: number): Promise<void>;
  /** Stops the cluster if this run started it (a reused one keeps running). */
  stop(): Promise<void>;
}

const NODES = 3;

async function reusable(file: string): Promise<StackState | undefined> {
  const state = await readState(file);
  if (state?.services.kafka?.nodes?.length !== NODES) return undefined;
  const health = await checkStackHealth(state, ['kafka']);
  return health.every((entry) => entry.healthy) ? state : undefined;
}

/** Starts (or reuses) the cluster. */
export async function startClusterStack(log: (message: string) => void): Promise<ClusterStack> {
  const config = resolveStackConfig();
  const sharedFile = stateFile(config.repoRoot, clusterStackOptions(NODES).name ?? '');
  let state = await reusable(sharedFile);
  let file = sharedFile;
  const owned = state === undefined;
  if (state === undefined) {
    const name = `brokers-test-${process.pid}`;
    file = stateFile(config.repoRoot, name);
    log(`starting a ${NODES}-node Kafka cluster`);
    state = await startStack({ name, services: ['kafka'], kafka: { brokers: NODES }, log });
    // Recorded so `npm run stack:down` cleans up if this run is killed.
    await writeState(file, state);
    log(`cluster ready in ${state.startSeconds} s, logs under ${state.runDir}/logs`);
  } else {
    log(`reusing the running ${NODES}-node cluster (${sharedFile})`);
  }
  const brokers = state.kafkaBrokers ?? [];
  const kafka = new Kafka({
    clientId: 'three-brokers-probe',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 2_000 },
  });
  const admin = new Admin({
    clientId: 'three-brokers-probe',
    bootstrapBrokers: [...brokers],
    retries: 20,
    retryDelay: 500,
  });
  let current = state;
  return {
    brokers,
    async partitionLeader(topic, partition) {
      const probe = kafka.admin();
      await probe.connect();
      try {
        const metadata = await probe.fetchTopicMetadata({ topics: [topic] });
        const found = metadata.topics[0]?.partitions.find((p) => p.partitionId === partition);
        if (found === undefined || found.leader < 0)
          throw new Error(`no leader for ${topic}/${partition}`);
        return found.leader;
      } finally {
        await probe.disconnect();
      }
    },
    async coordinator(kind, key) {
      const [found] = await admin.findCoordinator({
        keyType:
          kind === 'transaction'
            ? FindCoordinatorKeyTypes.TRANSACTION
            : FindCoordinatorKeyTypes.GROUP,
        keys: [key],
      });
      if (found === undefined) throw new Error(`no ${kind} coordinator for ${key}`);
      return found.nodeId;
    },
    kill: (nodeId) => killKafkaNode(current, nodeId),
    async restart(nodeId) {
      current = await startKafkaNode(current, nodeId, { log });
      await writeState(file, current);
    },
    async stop() {
      await admin.close().catch(() => undefined);
      if (!owned) return;
      await stopStack(current);
      await removeState(file);
    },
  };
}
