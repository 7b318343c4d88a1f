/**
 * The Kafka side of the capturer: an idempotent, transactional kafkajs producer with a
 * stable transactional id, topic creation and checks, and the checkpoint topic.
 *
 * kafkajs 2.2.4 facts this relies on:
 * - Idempotence needs `maxInFlightRequests: 1`; `connect()` runs InitProducerId, which
 *   bumps the epoch of the transactional id: older instances are fenced and their open
 *   transaction is aborted.
 * - After a commit, the next transaction's first AddPartitionsToTxn is answered with
 *   CONCURRENT_TRANSACTIONS while the coordinator writes the previous markers; kafkajs
 *   retries it after `retry.initialRetryTime` (300 ms by default), which would cap the
 *   capturer at ~3 transactions/s. We configure a few milliseconds instead.
 * - Idempotent producers retry forever by default; a bounded retry count plus our own
 *   commit timeout turn a stuck broker into an error, after which the whole pipeline
 *   restarts from the checkpoint with a fresh producer.
 * - kafkajs does not split produce requests, and the broker rejects a partition batch over
 *   `max.message.bytes`: one Kafka transaction is sent in chunks.
 * - kafkajs's record encoder allocates per header and per varint; with Tributary's envelope
 *   headers it limits a core to ~11,000 records/s. A byte-identical encoder is installed
 *   (see kafka/internal/kafkajs-record-encoder.ts) unless `kafka.fastRecordEncoder` is false.
 */
import { randomUUID } from 'node:crypto';
import kafkajs, {
  CompressionTypes,
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import type { CaptureConfig } from '../config.js';
import { installFastRecordEncoder } from './internal/kafkajs-record-encoder.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { noCrashPoints, type CrashPoints } from '../crash-points.js';
import { CaptureError } from '../errors.js';
import type { CaptureLogger } from '../logger.js';
import { formatLsn } from '../lsn.js';
import type { CaptureRecord } from '../router.js';
import type { CaptureSink, PublishBatch } from '../sink.js';
import {
  checkpointTopicHazards,
  checkpointTopicSettings,
  eventTopicHazards,
  eventTopicSettings,
} from './topic-hazards.js';

// Not among the named exports Node detects in kafkajs's CommonJS build.
const { ConfigResourceTypes } = kafkajs;

/** Options of {@link KafkaCaptureSink}. */
export interface KafkaCaptureSinkOptions {
  readonly config: CaptureConfig;
  readonly logger: CaptureLogger;
  readonly crashPoints?: CrashPoints;
  /** Topics already created or checked by an earlier sink of the same capturer. */
  readonly knownTopics?: Set<string>;
}

/** Errors after which this producer can never commit again: another instance took over. */
const FENCING_ERRORS = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    // Error code 90 (PRODUCER_FENCED) is newer than kafkajs 2.2.4, which reports it untyped.
    if ((current as { code?: unknown }).code === 90) return 'PRODUCER_FENCED';
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && type !== 'UNKNOWN') return type;
    current =
      (current as { cause?: unknown; originalError?: unknown }).originalError ??
      (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The transactional id of a capturer: stable per name, so a restarted instance fences its predecessor. */
export function transactionalIdFor(name: string): string {
  return `tributary.capture.${name}`;
}

const withTimeout = async <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          reject(
            new CaptureError(
              'CAPTURE_KAFKA_INDETERMINATE',
              `${what} did not finish within ${ms} ms; its outcome is unknown`,
              { retriable: true },
            ),
          );
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Creates the Kafka sink for one pipeline run (a fresh producer each time). Pass
 * `() => createKafkaCaptureSink(options)` to `createCapturer`, sharing one `knownTopics`
 * set across runs.
 */
export function createKafkaCaptureSink(options: KafkaCaptureSinkOptions): CaptureSink {
  return new KafkaCaptureSink(options);
}

/** A {@link CaptureSink} on Kafka. One instance per pipeline run (fresh producer each time). */
export class KafkaCaptureSink implements CaptureSink {
  readonly #config: CaptureConfig;
  readonly #logger: CaptureLogger;
  readonly #crash: CrashPoints;
  readonly #kafka: Kafka;
  readonly #known: Set<string>;
  #admin: Admin | undefined;
  #producer: Producer | undefined;

  constructor(options: KafkaCaptureSinkOptions) {
    // Before the first produce request: kafkajs loads its record encoder lazily with it.
    if (options.config.kafka.fastRecordEncoder && !installFastRecordEncoder()) {
      options.logger.debug('kafkajs record encoder already loaded; the fast encoder is not used');
    }
    this.#config = options.config;
    this.#logger = options.logger;
    this.#crash = options.crashPoints ?? noCrashPoints;
    this.#known = options.knownTopics ?? new Set();
    const { kafka } = options.config;
    const logger = options.logger;
    this.#kafka = new Kafka({
      clientId: kafka.clientId,
      brokers: [...kafka.brokers],
      ssl: kafka.ssl,
      // kafkajs logs every retry as an error; the capturer reports what matters itself.
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ level, log }) => {
          const { message, ...rest } = log;
          const fields = { ...rest, kafkaLevel: level };
          logger.debug(`kafkajs: ${message}`, fields);
        },
      retry: { initialRetryTime: 100, retries: 5 },
    });
  }

  get checkpointLocation(): string {
    return this.#config.topics.checkpointTopic;
  }

  /** Connects the admin client and makes sure the checkpoint (and transaction) topics exist. */
  async prepare(): Promise<void> {
    if (this.#admin !== undefined) return;
    const admin = this.#kafka.admin();
    await admin.connect();
    this.#admin = admin;
    const { checkpointTopic, transactionTopic } = this.#config.topics;
    await this.#ensureTopic(checkpointTopic, 'checkpoint');
    if (transactionTopic !== null) await this.#ensureTopic(transactionTopic, 'transactions');
  }

  async connect(): Promise<void> {
    await this.prepare();
    const { kafka, name } = this.#config;
    const producer = this.#kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: transactionalIdFor(name),
      transactionTimeout: kafka.transactionTimeoutMs,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: {
        initialRetryTime: kafka.retryInitialMs,
        maxRetryTime: 2_000,
        retries: kafka.retries,
      },
    });
    // InitProducerId: fences every older instance with this transactional id.
    await withTimeout(producer.connect(), kafka.commitTimeoutMs, 'connecting the producer');
    this.#producer = producer;
  }

  async readCheckpoint(): Promise<bigint | undefined> {
    await this.prepare();
    const admin = this.#admin as Admin;
    const topic = this.#config.topics.checkpointTopic;
    const offsets = await admin.fetchTopicOffsets(topic);
    const targets = new Map<number, bigint>();
    for (const partition of offsets) {
      if (BigInt(partition.high) > BigInt(partition.low)) {
        targets.set(partition.partition, BigInt(partition.high));
      }
    }
    if (targets.size === 0) return undefined;
    const consumer = this.#kafka.consumer({
      // A throwaway group: nothing is committed, kafkajs just has no group-less reading.
      groupId: `tributary.capture.checkpoint-reader.${this.#config.name}.${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
    });
    const positions = new Map<number, bigint>();
    let latest: string | undefined;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const check = (): void => {
      for (const [partition, high] of targets) {
        if ((positions.get(partition) ?? 0n) < high) return;
      }
      done();
    };
    const advance = (partition: number, next: bigint): void => {
      if (next > (positions.get(partition) ?? 0n)) positions.set(partition, next);
      check();
    };
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // Also fires for batches that held only control records or aborted records, which
      // read_committed hides: the reader must move past those to reach the end.
      advance(payload.partition, BigInt(payload.lastOffset) + 1n);
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ partition, message }) => {
          if (message.key?.toString() === this.#config.name && message.value !== null) {
            latest = message.value.toString();
          }
          advance(partition, BigInt(message.offset) + 1n);
          return Promise.resolve();
        },
      });
      await withTimeout(finished, 30_000, 'reading the checkpoint topic');
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
    return latest === undefined ? undefined : decodeCheckpoint(latest);
  }

  async publish(batch: PublishBatch): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error('publish before connect');
    const topics = new Set<string>();
    for (const record of batch.records) topics.add(record.topic);
    for (const topic of topics) {
      if (!this.#known.has(topic)) await this.#ensureTopic(topic, 'events');
    }
    await withTimeout(
      this.#publishInTransaction(producer, batch),
      this.#config.kafka.commitTimeoutMs,
      `Kafka transaction up to ${formatLsn(batch.checkpoint)}`,
    ).catch((error: unknown) => {
      const type = kafkaErrorType(error);
      if (type !== undefined && FENCING_ERRORS.has(type)) {
        throw new CaptureError(
          'CAPTURE_FENCED',
          `Another capturer instance took over transactional id ${transactionalIdFor(this.#config.name)} (${type}); nothing of this batch was committed`,
          { retriable: true, cause: error },
        );
      }
      if (error instanceof CaptureError) throw error;
      throw new CaptureError(
        'CAPTURE_KAFKA_INDETERMINATE',
        `Kafka transaction failed: ${error instanceof Error ? error.message : String(error)}`,
        { retriable: true, cause: error },
      );
    });
  }

  async #publishInTransaction(producer: Producer, batch: PublishBatch): Promise<void> {
    const config = this.#config;
    const compression =
      config.kafka.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    const transaction = await producer.transaction();
    const chunks = chunk(batch.records, config.batch.maxRequestBytes);
    for (let index = 0; index < chunks.length; index += 1) {
      const topicMessages = toTopicMessages(chunks[index] ?? []);
      if (index === chunks.length - 1) {
        // The checkpoint rides in the same Kafka transaction as the events: both become
        // visible together or not at all, so the checkpoint never claims unwritten events.
        topicMessages.push({
          topic: config.topics.checkpointTopic,
          messages: [
            { key: config.name, value: encodeCheckpoint(batch.checkpoint, config.slot.name) },
          ],
        });
        if (config.topics.transactionTopic !== null) {
          topicMessages.push({
            topic: config.topics.transactionTopic,
            messages: batch.transactions.map((summary) => ({
              key: formatLsn(summary.commitLsn),
              value: JSON.stringify({
                xid: summary.xid,
                commitLsn: formatLsn(summary.commitLsn),
                commitTime: new Date(Number(summary.commitTimeMicros / 1000n)).toISOString(),
                eventCount: summary.eventCount,
                capturer: config.name,
              }),
            })),
          });
        }
      }
      await transaction.sendBatch({ topicMessages, acks: -1, compression });
    }
    this.#crash('produce');
    await transaction.commit();
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    const admin = this.#admin;
    this.#producer = undefined;
    this.#admin = undefined;
    // Bounded: a dead broker must not keep a restart or a shutdown waiting.
    await Promise.allSettled([
      producer === undefined ? undefined : withTimeout(producer.disconnect(), 5_000, 'disconnect'),
      admin === undefined ? undefined : withTimeout(admin.disconnect(), 5_000, 'disconnect'),
    ]);
  }

  async #ensureTopic(topic: string, kind: 'events' | 'checkpoint' | 'transactions'): Promise<void> {
    const admin = this.#admin;
    if (admin === undefined) throw new Error('admin not connected');
    const existing = new Set(await admin.listTopics());
    if (!existing.has(topic)) {
      if (!this.#config.topics.create) {
        throw new CaptureError(
          'CAPTURE_KAFKA_INDETERMINATE',
          `Topic ${topic} does not exist and topics.create is false`,
          { retriable: true },
        );
      }
      const settings = kind === 'checkpoint' ? checkpointTopicSettings() : eventTopicSettings();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic,
            numPartitions: kind === 'checkpoint' ? 1 : this.#config.topics.partitions,
            replicationFactor: this.#config.topics.replicationFactor,
            configEntries: Object.entries(settings).map(([name, value]) => ({ name, value })),
          },
        ],
      });
      this.#logger.info('created topic', { topic, kind, ...settings });
    } else {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      });
      const settings: Record<string, string> = {};
      for (const entry of described.resources[0]?.configEntries ?? []) {
        settings[entry.configName] = entry.configValue;
      }
      const hazards =
        kind === 'checkpoint' ? checkpointTopicHazards(settings) : eventTopicHazards(settings);
      for (const hazard of hazards) {
        this.#logger.warn(`TOPIC ${topic} CANNOT BE REPLAYED SAFELY: ${hazard}`, { topic, kind });
      }
    }
    this.#known.add(topic);
  }
}

/** Splits records into produce requests of at most `maxBytes` (at least one record each). */
export function chunk(records: readonly CaptureRecord[], maxBytes: number): CaptureRecord[][] {
  const chunks: CaptureRecord[][] = [];
  let current: CaptureRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    if (current.length > 0 && bytes + record.sizeBytes > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += record.sizeBytes;
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return chunks;
}

/** Groups records by topic, keeping their order (kafkajs keeps it per partition). */
function toTopicMessages(records: readonly CaptureRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(record.topic, messages);
    }
    // kafkajs only reads the headers; no copy per record.
    messages.push({ key: record.key, value: record.value, headers: record.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
