import type {
  KafkaConsumer,
  KafkaConsumerOptions,
  KafkaRecord,
  KafkaRunOptions,
  KafkaTopicPartition,
  KafkaTopicPartitionOffset,
} from '@tributary/core';
import type { Consumer, Kafka } from 'kafkajs';
import { isKafkaSecurityError } from '@tributary/core';
import { uncommittedCluster, type KafkajsCluster } from './admin.js';
import { requestError, securityFailure, translated } from './errors.js';

/** The part of kafkajs's internal Broker that asks for a group coordinator. */
interface KafkajsCoordinatorBroker {
  findGroupCoordinator(request: { groupId: string; coordinatorType: number }): Promise<unknown>;
}
import {
  checkedConnect,
  noConnectFailureCheck,
  type ConnectFailureCheck,
} from './internal/tls-required.js';

/** The port's flat partition list as kafkajs's `{ topic, partitions }` groups. */
function byTopic(
  partitions: readonly KafkaTopicPartition[],
): { topic: string; partitions: number[] }[] {
  const grouped = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    let list = grouped.get(topic);
    if (list === undefined) {
      list = [];
      grouped.set(topic, list);
    }
    list.push(partition);
  }
  return [...grouped].map(([topic, list]) => ({ topic, partitions: list }));
}

/**
 * A {@link KafkaConsumer} on kafkajs: `read_committed`, no topic auto-creation, no
 * auto-commit and no auto-resolve, so only what the handler resolves counts as consumed.
 * kafkajs sends heartbeats only from its run loop: a handler blocked for longer than the
 * session timeout loses the group membership unless it calls `heartbeat()`.
 */
export class KafkajsConsumer implements KafkaConsumer {
  readonly #consumer: Consumer;
  readonly #options: KafkaConsumerOptions;
  readonly #checkConnect: ConnectFailureCheck;
  readonly #kafka: Kafka;
  #assigned: readonly KafkaTopicPartition[] = [];

  constructor(
    kafka: Kafka,
    options: KafkaConsumerOptions,
    checkConnect: ConnectFailureCheck = noConnectFailureCheck,
  ) {
    this.#options = options;
    this.#kafka = kafka;
    this.#checkConnect = checkConnect;
    const consumer = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      ...(options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeout: options.sessionTimeoutMs }),
      ...(options.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatInterval: options.heartbeatIntervalMs }),
      ...(options.maxWaitTimeMs === undefined ? {} : { maxWaitTimeInMs: options.maxWaitTimeMs }),
    });
    this.#consumer = consumer;
    // GROUP_JOIN is emitted before the first fetch of the new generation, so a listener
    // that pauses partitions there runs before any of their batches.
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const assigned: KafkaTopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) assigned.push({ topic, partition });
      }
      this.#assigned = assigned;
      options.onPartitionsAssigned?.(assigned);
    });
    // kafkajs's eager protocol gives everything up when a rebalance starts.
    consumer.on(consumer.events.REBALANCING, () => {
      this.#revoke();
    });
  }

  #revoke(): void {
    const revoked = this.#assigned;
    this.#assigned = [];
    if (revoked.length > 0) this.#options.onPartitionsRevoked?.(revoked);
  }

  connect(): Promise<void> {
    return checkedConnect(
      () =>
        translated(
          () => this.#consumer.connect(),
          (error) => requestError(error, 'connecting the consumer'),
        ),
      this.#checkConnect,
      'connecting the consumer',
    );
  }

  subscribe(
    topics: readonly string[],
    options: { readonly fromBeginning?: boolean } = {},
  ): Promise<void> {
    return translated(
      () =>
        this.#consumer.subscribe({
          topics: [...topics],
          fromBeginning: options.fromBeginning ?? false,
        }),
      (error) => requestError(error, 'subscribing'),
    );
  }

  async run(options: KafkaRunOptions): Promise<void> {
    const handler = options.eachBatch;
    const onHidden = options.onHiddenEntries;
    if (onHidden !== undefined) {
      // kafkajs resolves a fetch of only markers / aborted records itself without calling
      // eachBatch; its batch events are the one place that says how far it got.
      this.#consumer.on(this.#consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.batchSize !== 0 || payload.firstOffset === null) return;
        onHidden({
          topic: payload.topic,
          partition: payload.partition,
          firstOffset: BigInt(payload.firstOffset),
          lastOffset: BigInt(payload.lastOffset),
        });
      });
    }
    // kafkajs reports a consumer that gave up (a non-retriable error: a refused group ACL,
    // failed authentication) only as a CRASH event, and one that will restart the same way;
    // a security failure would restart forever. Both end this consumer with a typed error:
    // the rejection of run() while starting, onFatalError afterwards.
    let started = false;
    let failedWhileStarting: Promise<Error> | undefined;
    this.#consumer.on(this.#consumer.events.CRASH, ({ payload }) => {
      const error = requestError(payload.error, 'consuming');
      if (payload.restart && !isKafkaSecurityError(error)) return;
      if (payload.restart) {
        // Disconnecting cancels the restart kafkajs schedules right after this event.
        setImmediate(() => {
          void this.#consumer.disconnect().catch(() => undefined);
        });
      }
      const diagnosed = this.#whyNoCoordinator(payload.error, error);
      if (started) {
        void diagnosed.then((fatal) => {
          options.onFatalError?.(fatal);
        });
      } else failedWhileStarting ??= diagnosed;
    });
    const running = this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        const { topic, partition } = batch;
        const records = batch.messages.map((message): KafkaRecord => ({
          topic,
          partition,
          offset: BigInt(message.offset),
          key: message.key,
          value: message.value,
          headers: message.headers ?? {},
        }));
        await handler({
          topic,
          partition,
          records,
          lastOffset: BigInt(batch.lastOffset()),
          highWatermark: BigInt(batch.highWatermark),
          resolveOffset: (offset) => {
            payload.resolveOffset(String(offset));
          },
          heartbeat: () => payload.heartbeat(),
          isRunning: () => payload.isRunning(),
          isStale: () => payload.isStale(),
        });
      },
    });
    await translated(
      () => running,
      (error) => requestError(error, 'starting the consumer'),
    );
    started = true;
    if (failedWhileStarting !== undefined) throw await failedWhileStarting;
  }

  /**
   * kafkajs asks every broker for the group coordinator and, when all refuse, throws
   * "Failed to find group coordinator" without their answer, which hides a refused group
   * ACL (GROUP_AUTHORIZATION_FAILED). Asking once more, on a connection of its own, brings
   * the answer to light; anything else keeps the error as it was.
   */
  async #whyNoCoordinator(raw: unknown, error: Error): Promise<Error> {
    if ((raw as { name?: unknown } | null)?.name !== 'KafkaJSGroupCoordinatorNotFound') {
      return error;
    }
    const cluster = uncommittedCluster(this.#kafka) as KafkajsCluster & {
      brokerPool?: { seedBroker?: KafkajsCoordinatorBroker };
    };
    try {
      await cluster.connect();
      await cluster.brokerPool?.seedBroker?.findGroupCoordinator({
        groupId: this.#options.groupId,
        coordinatorType: 0,
      });
      return error;
    } catch (answer) {
      return securityFailure(answer, 'joining the consumer group') ?? error;
    } finally {
      await cluster.disconnect().catch(() => undefined);
    }
  }

  seek(position: KafkaTopicPartitionOffset): void {
    this.#consumer.seek({
      topic: position.topic,
      partition: position.partition,
      offset: String(position.offset),
    });
  }

  pause(partitions: readonly KafkaTopicPartition[]): void {
    this.#consumer.pause(byTopic(partitions));
  }

  resume(partitions: readonly KafkaTopicPartition[]): void {
    this.#consumer.resume(byTopic(partitions));
  }

  commitOffsets(offsets: readonly KafkaTopicPartitionOffset[]): Promise<void> {
    return translated(
      () =>
        this.#consumer.commitOffsets(
          offsets.map(({ topic, partition, offset }) => ({
            topic,
            partition,
            offset: String(offset),
          })),
        ),
      (error) => requestError(error, 'committing offsets'),
    );
  }

  async disconnect(): Promise<void> {
    await this.#consumer.disconnect();
    this.#revoke();
  }
}
