/**
 * The Kafka client port of `@tributary/core` on the in-memory log, so code written against
 * the port (the capture sink, the projection runtime) runs without a broker. It passes the
 * same contract suite as the kafkajs client.
 */
import {
  KafkaClientError,
  KafkaProducerFencedError,
  type KafkaAdmin,
  type KafkaBytes,
  type KafkaClient,
  type KafkaCommittedOffset,
  type KafkaConsumer,
  type KafkaConsumerOptions,
  type KafkaPartitionOffsets,
  type KafkaProducer,
  type KafkaProducerOptions,
  type KafkaRecord,
  type KafkaRunOptions,
  type KafkaTopicDescription,
  type KafkaTopicMessages,
  type KafkaTopicPartition,
  type KafkaTopicPartitionOffset,
  type KafkaTopicSpec,
  type KafkaTransaction,
} from '@tributary/core';
import type { InMemoryConsumer } from './consumer.js';
import { isLogError } from './errors.js';
import type { InMemoryKafkaLog } from './in-memory-kafka-log.js';
import type { InMemoryProducer, InMemoryTransaction } from './producer.js';
import type { LogMessage, LogRecord } from './types.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();
const asText = (value: KafkaBytes): string =>
  typeof value === 'string' ? value : text.decode(value);
const asBytes = (value: string | Uint8Array): Uint8Array =>
  typeof value === 'string' ? utf8.encode(value) : value;

function toLogMessage(message: KafkaTopicMessages['messages'][number]): LogMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = asText(value);
  return {
    key: message.key === null ? null : asText(message.key),
    value: message.value,
    headers,
    ...(message.partition === undefined ? {} : { partition: message.partition }),
  };
}

const toKafkaRecord = (record: LogRecord): KafkaRecord => ({
  topic: record.topic,
  partition: record.partition,
  offset: BigInt(record.offset),
  key: record.key === null ? null : asBytes(record.key),
  value: record.value === null ? null : asBytes(record.value),
  headers: record.headers,
});

/** The port's typed errors for the log's fencing; everything else as the log threw it. */
function translate(error: unknown, transactionalId: string | undefined): unknown {
  if (transactionalId !== undefined && isLogError(error, 'PRODUCER_FENCED')) {
    return new KafkaProducerFencedError(transactionalId, {
      cause: error,
      details: { kafkaError: 'PRODUCER_FENCED' },
    });
  }
  return error;
}

async function guarded<T>(call: () => Promise<T>, transactionalId?: string): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translate(error, transactionalId);
  }
}

class InMemoryPortTransaction implements KafkaTransaction {
  constructor(
    private readonly transaction: InMemoryTransaction,
    private readonly transactionalId: string,
  ) {}

  send(batch: readonly KafkaTopicMessages[]): Promise<void> {
    return guarded(async () => {
      for (const { topic, messages } of batch) {
        await this.transaction.send({ topic, messages: messages.map(toLogMessage) });
      }
    }, this.transactionalId);
  }

  commit(): Promise<void> {
    return guarded(() => this.transaction.commit(), this.transactionalId);
  }

  abort(): Promise<void> {
    return guarded(() => this.transaction.abort(), this.transactionalId);
  }
}

class InMemoryPortProducer implements KafkaProducer {
  constructor(
    private readonly producer: InMemoryProducer,
    private readonly transactionalId: string | undefined,
  ) {}

  connect(): Promise<void> {
    return guarded(() => this.producer.connect(), this.transactionalId);
  }

  send(batch: readonly KafkaTopicMessages[]): Promise<void> {
    return guarded(async () => {
      for (const { topic, messages } of batch) {
        await this.producer.send({ topic, messages: messages.map(toLogMessage) });
      }
    }, this.transactionalId);
  }

  async begin(): Promise<KafkaTransaction> {
    const transactionalId = this.transactionalId;
    if (transactionalId === undefined) {
      throw new TypeError('Only a producer with a transactionalId can begin a transaction');
    }
    const transaction = await guarded(() => this.producer.transaction(), transactionalId);
    return new InMemoryPortTransaction(transaction, transactionalId);
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }
}

const key = (topic: string, partition: number): string => `${topic}\u0000${String(partition)}`;

/**
 * A consumer over the log's poll-based group member: a loop polls and hands each
 * partition's records to the handler; paused partitions are rewound after a poll, and
 * records the handler did not resolve are delivered again.
 */
class InMemoryPortConsumer implements KafkaConsumer {
  private readonly consumer: InMemoryConsumer;
  private readonly paused = new Set<string>();
  private readonly stale = new Set<string>();
  private readonly idleMs: number;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(log: InMemoryKafkaLog, options: KafkaConsumerOptions) {
    this.idleMs = Math.min(options.maxWaitTimeMs ?? 10, 10);
    this.consumer = log.consumer({
      groupId: options.groupId,
      ...(options.onPartitionsAssigned === undefined
        ? {}
        : { onPartitionsAssigned: options.onPartitionsAssigned }),
      ...(options.onPartitionsRevoked === undefined
        ? {}
        : { onPartitionsRevoked: options.onPartitionsRevoked }),
    });
  }

  connect(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(topics: readonly string[], options: { readonly fromBeginning?: boolean } = {}) {
    return this.consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? false });
  }

  run(options: KafkaRunOptions): Promise<void> {
    this.running = true;
    this.loop = this.consume(options);
    return Promise.resolve();
  }

  private async consume(options: KafkaRunOptions): Promise<void> {
    while (this.running) {
      // Positions before the poll: a partition that moved without a batch held only hidden
      // entries (markers, aborted records), which onHiddenEntries reports.
      const before = new Map<string, number>();
      if (options.onHiddenEntries !== undefined) {
        for (const tp of this.consumer.assignment())
          before.set(key(tp.topic, tp.partition), this.consumer.position(tp));
      }
      const batches = await this.consumer.poll();
      if (options.onHiddenEntries !== undefined) {
        for (const tp of this.consumer.assignment()) {
          const partitionKey = key(tp.topic, tp.partition);
          const from = before.get(partitionKey);
          const to = this.consumer.position(tp);
          if (
            from === undefined ||
            to <= from ||
            this.paused.has(partitionKey) ||
            batches.some((batch) => key(batch.topic, batch.partition) === partitionKey)
          )
            continue;
          options.onHiddenEntries({
            topic: tp.topic,
            partition: tp.partition,
            firstOffset: BigInt(from),
            lastOffset: BigInt(to - 1),
          });
        }
      }
      let delivered = 0;
      for (const batch of batches) {
        const partitionKey = key(batch.topic, batch.partition);
        const first = batch.records[0];
        if (first === undefined) continue;
        if (this.paused.has(partitionKey) || !this.running) {
          this.consumer.seek({
            topic: batch.topic,
            partition: batch.partition,
            offset: first.offset,
          });
          continue;
        }
        delivered += 1;
        const lastOffset = BigInt(this.consumer.position(batch) - 1);
        const last = batch.records[batch.records.length - 1] as LogRecord;
        let resolved: bigint | undefined;
        this.stale.delete(partitionKey);
        try {
          await options.eachBatch({
            topic: batch.topic,
            partition: batch.partition,
            records: batch.records.map(toKafkaRecord),
            lastOffset,
            highWatermark: BigInt(batch.highWatermark),
            resolveOffset: (offset) => {
              resolved = offset;
            },
            heartbeat: () => Promise.resolve(),
            isRunning: () => this.running,
            isStale: () => this.stale.has(partitionKey),
          });
        } catch {
          // As a restarted consumer would: deliver the unresolved records again, after a pause.
          delivered = 0;
        }
        if (
          this.stale.has(partitionKey) ||
          !this.consumer.assignment().some((tp) => key(tp.topic, tp.partition) === partitionKey)
        ) {
          continue;
        }
        if (resolved === undefined || resolved < BigInt(last.offset)) {
          const next = resolved === undefined ? first.offset : Number(resolved) + 1;
          this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: next });
        }
      }
      if (delivered === 0) await new Promise((resolve) => setTimeout(resolve, this.idleMs));
    }
  }

  seek(position: KafkaTopicPartitionOffset): void {
    this.consumer.seek({
      topic: position.topic,
      partition: position.partition,
      offset: Number(position.offset),
    });
    this.stale.add(key(position.topic, position.partition));
  }

  pause(partitions: readonly KafkaTopicPartition[]): void {
    for (const { topic, partition } of partitions) this.paused.add(key(topic, partition));
  }

  resume(partitions: readonly KafkaTopicPartition[]): void {
    for (const { topic, partition } of partitions) this.paused.delete(key(topic, partition));
  }

  commitOffsets(offsets: readonly KafkaTopicPartitionOffset[]): Promise<void> {
    return this.consumer.commitOffsets(
      offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: Number(offset) })),
    );
  }

  async disconnect(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.consumer.disconnect();
  }
}

class InMemoryPortAdmin implements KafkaAdmin {
  constructor(
    private readonly log: InMemoryKafkaLog,
    private readonly configs: Map<string, Readonly<Record<string, string>>>,
  ) {}

  connect(): Promise<void> {
    return Promise.resolve();
  }

  disconnect(): Promise<void> {
    return Promise.resolve();
  }

  listTopics(): Promise<string[]> {
    return Promise.resolve(this.log.listTopics());
  }

  createTopics(topics: readonly KafkaTopicSpec[]): Promise<void> {
    const existing = new Set(this.log.listTopics());
    for (const spec of topics) {
      if (existing.has(spec.topic)) continue;
      const configs = spec.configs ?? {};
      this.log.createTopic(spec.topic, {
        partitions: spec.partitions,
        cleanupPolicy: (configs['cleanup.policy'] ?? 'delete').includes('compact')
          ? 'compact'
          : 'delete',
      });
      this.configs.set(spec.topic, { ...configs });
    }
    return Promise.resolve();
  }

  describeTopic(topic: string): Promise<KafkaTopicDescription> {
    if (!this.log.listTopics().includes(topic)) {
      return Promise.reject(
        new KafkaClientError('KAFKA_UNKNOWN_TOPIC', `Topic ${topic} does not exist`, {
          retriable: true,
        }),
      );
    }
    const described = this.log.describeTopic(topic);
    return Promise.resolve({
      topic,
      partitions: described.partitions,
      configs: { ...this.configs.get(topic), 'cleanup.policy': described.cleanupPolicy },
    });
  }

  fetchOffsets(topic: string): Promise<KafkaPartitionOffsets[]> {
    return guarded(() =>
      Promise.resolve(
        this.log.watermarks(topic).map((marks) => ({
          partition: marks.partition,
          earliest: BigInt(marks.earliestOffset),
          highWatermark: BigInt(marks.highWatermark),
          lastStableOffset: BigInt(marks.lastStableOffset),
        })),
      ),
    );
  }

  fetchCommittedOffsets(groupId: string, topic: string): Promise<KafkaCommittedOffset[]> {
    return guarded(() =>
      Promise.resolve(
        this.log.committedOffsets(groupId, topic).map(({ partition, offset }) => ({
          partition,
          offset: offset === null ? null : BigInt(offset),
        })),
      ),
    );
  }
}

/** A {@link KafkaClient} on an {@link InMemoryKafkaLog}. */
export class InMemoryKafkaClient implements KafkaClient {
  /** The log behind the client, for assertions. */
  readonly log: InMemoryKafkaLog;
  private readonly configs = new Map<string, Readonly<Record<string, string>>>();

  /** @param log - the log to read and write. */
  constructor(log: InMemoryKafkaLog) {
    this.log = log;
  }

  /** A producer of the log; transactional with a `transactionalId`. */
  producer(options: KafkaProducerOptions = {}): KafkaProducer {
    return new InMemoryPortProducer(
      this.log.producer(
        options.transactionalId === undefined ? {} : { transactionalId: options.transactionalId },
      ),
      options.transactionalId,
    );
  }

  /** A consumer-group member polling the log. */
  consumer(options: KafkaConsumerOptions): KafkaConsumer {
    return new InMemoryPortConsumer(this.log, options);
  }

  /** Admin calls on the log. */
  admin(): KafkaAdmin {
    return new InMemoryPortAdmin(this.log, this.configs);
  }

  /** Reads every committed record up to the high watermark, past open transactions. */
  readCommitted(topic: string, onRecord: (record: KafkaRecord) => void): Promise<void> {
    return guarded(() => {
      for (const partition of this.log.partitionsFor(topic)) {
        for (const record of this.log.committedRecords(topic, partition)) {
          onRecord(toKafkaRecord(record));
        }
      }
      return Promise.resolve();
    });
  }
}
