/**
 * The Kafka side of the capturer, on the Kafka client port: an idempotent, transactional
 * producer with a stable transactional id, topic creation and checks, and the checkpoint
 * topic. Client-specific tuning (kafkajs's retry after CONCURRENT_TRANSACTIONS, its fast
 * record encoder, error mapping) lives in the client implementation.
 *
 * - `connect()` fences: the producer's first call bumps the epoch of the transactional id,
 *   so older instances can commit nothing any more and their open transaction is aborted.
 * - Every failure of a transaction other than fencing leaves its outcome unknown; it is
 *   reported as retriable, after which the whole pipeline restarts from the checkpoint with
 *   a fresh producer (a bounded commit timeout turns a stuck broker into such an error).
 * - The broker rejects a partition batch over `max.message.bytes` and clients do not split
 *   produce requests: one Kafka transaction is sent in chunks.
 */
import {
  isKafkaProducerFencedError,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaMessage,
  type KafkaProducer,
  type KafkaTopicMessages,
  type Logger,
  withTimeout,
} from '@tributary/core';
import type { CaptureConfig } from '../config.js';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { noCrashPoints, type CrashPoints } from '../crash-points.js';
import { CaptureError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import type { CaptureRecord } from '../router.js';
import type { CaptureSink, PublishBatch } from '../sink.js';
import {
  checkpointTopicHazards,
  checkpointTopicSettings,
  eventTopicHazards,
  eventTopicSettings,
} from './topic-hazards.js';

/** Options of {@link KafkaCaptureSink}. */
export interface KafkaCaptureSinkOptions {
  /** The Kafka client (e.g. `createKafkajsClient` of `@tributary/kafkajs`). */
  readonly client: KafkaClient;
  readonly config: CaptureConfig;
  readonly logger: Logger;
  readonly crashPoints?: CrashPoints;
  /** Topics already created or checked by an earlier sink of the same capturer. */
  readonly knownTopics?: Set<string>;
}

/** The transactional id of a capturer: stable per name, so a restarted instance fences its predecessor. */
export function transactionalIdFor(name: string): string {
  return `tributary.capture.${name}`;
}

const decoder = new TextDecoder();

// A Kafka call that does not finish in time has an unknown outcome: restart from the checkpoint.
const withKafkaTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  withTimeout(
    promise,
    ms,
    () =>
      new CaptureError(
        'CAPTURE_KAFKA_INDETERMINATE',
        `${what} did not finish within ${ms} ms; its outcome is unknown`,
        { retriable: true },
      ),
  );

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
  readonly #logger: Logger;
  readonly #crash: CrashPoints;
  readonly #client: KafkaClient;
  readonly #known: Set<string>;
  #admin: KafkaAdmin | undefined;
  #producer: KafkaProducer | undefined;

  constructor(options: KafkaCaptureSinkOptions) {
    this.#client = options.client;
    this.#config = options.config;
    this.#logger = options.logger;
    this.#crash = options.crashPoints ?? noCrashPoints;
    this.#known = options.knownTopics ?? new Set();
  }

  get checkpointLocation(): string {
    return this.#config.topics.checkpointTopic;
  }

  /** Connects the admin client and makes sure the checkpoint (and transaction) topics exist. */
  async prepare(): Promise<void> {
    if (this.#admin !== undefined) return;
    const admin = this.#client.admin();
    await admin.connect();
    this.#admin = admin;
    const { checkpointTopic, transactionTopic } = this.#config.topics;
    await this.#ensureTopic(checkpointTopic, 'checkpoint');
    if (transactionTopic !== null) await this.#ensureTopic(transactionTopic, 'transactions');
  }

  async connect(): Promise<void> {
    await this.prepare();
    const { kafka, name } = this.#config;
    const producer = this.#client.producer({
      transactionalId: transactionalIdFor(name),
      transactionTimeoutMs: kafka.transactionTimeoutMs,
      compression: kafka.compression,
      retry: { initialMs: kafka.retryInitialMs, retries: kafka.retries },
    });
    // Fences every older instance with this transactional id.
    await withKafkaTimeout(producer.connect(), kafka.commitTimeoutMs, 'connecting the producer');
    this.#producer = producer;
  }

  async readCheckpoint(): Promise<bigint | undefined> {
    await this.prepare();
    let latest: Uint8Array | undefined;
    const name = this.#config.name;
    await this.#client.readCommitted(this.#config.topics.checkpointTopic, (record) => {
      if (record.key !== null && record.value !== null && decoder.decode(record.key) === name) {
        latest = record.value;
      }
    });
    return latest === undefined ? undefined : decodeCheckpoint(decoder.decode(latest));
  }

  async publish(batch: PublishBatch): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error('publish before connect');
    const topics = new Set<string>();
    for (const record of batch.records) topics.add(record.topic);
    for (const topic of topics) {
      if (!this.#known.has(topic)) await this.#ensureTopic(topic, 'events');
    }
    await withKafkaTimeout(
      this.#publishInTransaction(producer, batch),
      this.#config.kafka.commitTimeoutMs,
      `Kafka transaction up to ${formatLsn(batch.checkpoint)}`,
    ).catch((error: unknown) => {
      if (isKafkaProducerFencedError(error)) {
        const reason = error.details['kafkaError'];
        throw new CaptureError(
          'CAPTURE_FENCED',
          `Another capturer instance took over transactional id ${transactionalIdFor(this.#config.name)} (${typeof reason === 'string' ? reason : 'fenced'}); nothing of this batch was committed`,
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

  async #publishInTransaction(producer: KafkaProducer, batch: PublishBatch): Promise<void> {
    const config = this.#config;
    const transaction = await producer.begin();
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
      await transaction.send(topicMessages);
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
      producer === undefined
        ? undefined
        : withKafkaTimeout(producer.disconnect(), 5_000, 'disconnect'),
      admin === undefined ? undefined : withKafkaTimeout(admin.disconnect(), 5_000, 'disconnect'),
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
      await admin.createTopics([
        {
          topic,
          partitions: kind === 'checkpoint' ? 1 : this.#config.topics.partitions,
          replicationFactor: this.#config.topics.replicationFactor,
          configs: settings,
        },
      ]);
      this.#logger.info('created topic', { topic, kind, ...settings });
    } else {
      const settings = (await admin.describeTopic(topic)).configs;
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

/** Groups records by topic, keeping their order (Kafka keeps it per partition). */
function toTopicMessages(records: readonly CaptureRecord[]): KafkaTopicMessages[] {
  const byTopic = new Map<string, KafkaMessage[]>();
  for (const record of records) {
    let messages = byTopic.get(record.topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(record.topic, messages);
    }
    // Clients only read the headers; no copy per record.
    messages.push({ key: record.key, value: record.value, headers: record.headers });
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
