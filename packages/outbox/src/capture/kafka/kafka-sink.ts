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
 *   produce requests: one Kafka transaction is sent in chunks, the checkpoint and the
 *   transaction summaries included. A record too large on its own, and a broker error no
 *   retry can fix (size, authorisation, invalid topic), halt capture naming the event.
 * - Keys never move: each event topic's partition count is recorded in the checkpoint at
 *   first use, records go to the partition that count gives (Kafka's murmur2 of the key),
 *   and a topic whose count changed halts capture (`CAPTURE_PARTITIONS_CHANGED`).
 */
import {
  isKafkaProducerFencedError,
  partitionForKey,
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
import type { CaptureCheckpoint, CaptureSink, PublishBatch } from '../sink.js';
import type { SourceIdentity } from '../source.js';
import {
  assertRecordFits,
  chunkBySize,
  permanentKafkaError,
  recordBatchBytes,
  rejectedByKafka,
} from './record-limits.js';
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

/** Rethrows `error`, as a halt when no retry can fix it. */
const haltIfPermanent = (error: unknown, what: string): never => {
  const permanent = permanentKafkaError(error);
  if (permanent !== undefined) throw rejectedByKafka(permanent, [], what, error);
  throw error;
};

/** One message of a Kafka transaction with the bytes it counts for in a produce request. */
export interface Outgoing {
  readonly topic: string;
  readonly message: KafkaMessage;
  readonly bytes: number;
  readonly record?: CaptureRecord;
}

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
  #identity: SourceIdentity | undefined;
  /** Partition count of each event topic at first use, as recorded in the checkpoint. */
  #layout = new Map<string, number>();
  /** Topics whose partition count was compared with the layout since `#layoutCheckedAt`. */
  readonly #verified = new Set<string>();
  #layoutCheckedAt = performance.now();
  /**
   * Partition count of the transaction topic when the sink was prepared. Summaries get an
   * explicit partition like events, so every produce request holds one partition (a retry
   * of a multi-broker send could write records twice); each summary has its own key, so a
   * count that grew since only leaves the new partitions unused.
   */
  #transactionPartitions = 1;

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
    if (transactionTopic !== null)
      this.#transactionPartitions = await this.#ensureTopic(transactionTopic, 'transactions');
  }

  async connect(identity?: SourceIdentity): Promise<void> {
    await this.prepare();
    this.#identity = identity;
    const { kafka, name } = this.#config;
    const producer = this.#client.producer({
      transactionalId: transactionalIdFor(name),
      transactionTimeoutMs: kafka.transactionTimeoutMs,
      compression: kafka.compression,
      retry: { initialMs: kafka.retryInitialMs, retries: kafka.retries },
    });
    // Fences every older instance with this transactional id.
    await withKafkaTimeout(
      producer.connect(),
      kafka.commitTimeoutMs,
      'connecting the producer',
    ).catch((error: unknown) => haltIfPermanent(error, 'initialising the transactional producer'));
    this.#producer = producer;
  }

  async readCheckpoint(): Promise<CaptureCheckpoint | undefined> {
    await this.prepare();
    let latest: Uint8Array | undefined;
    const name = this.#config.name;
    // Every record committed now, even past another capturer's open transaction on the
    // shared topic: stopping at the last stable offset would return a stale checkpoint.
    await this.#client.readCommitted(this.#config.topics.checkpointTopic, (record) => {
      if (record.key !== null && decoder.decode(record.key) === name) {
        latest = record.value ?? undefined;
      }
    });
    const checkpoint = latest === undefined ? undefined : decodeCheckpoint(decoder.decode(latest));
    this.#layout = new Map(checkpoint?.partitions ?? []);
    this.#verified.clear();
    return checkpoint;
  }

  async publish(batch: PublishBatch): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error('publish before connect');
    const maxRecordBytes = this.#config.kafka.maxRecordBytes;
    const topics = new Set<string>();
    for (const record of batch.records) {
      assertRecordFits(record, maxRecordBytes);
      topics.add(record.topic);
    }
    await this.#verifyLayout(topics);
    const sent: { records: readonly CaptureRecord[] } = { records: [] };
    await withKafkaTimeout(
      this.#publishInTransaction(producer, batch, sent),
      this.#config.kafka.commitTimeoutMs,
      `Kafka transaction up to ${formatLsn(batch.checkpoint)}`,
    ).catch((error: unknown) => {
      const permanent = permanentKafkaError(error);
      if (permanent !== undefined) {
        throw rejectedByKafka(
          permanent,
          sent.records,
          `the Kafka transaction up to ${formatLsn(batch.checkpoint)}`,
          error,
        );
      }
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

  /** Everything one Kafka transaction sends, in order; the checkpoint goes last. */
  #outgoing(batch: PublishBatch): Outgoing[] {
    const config = this.#config;
    const outgoing: Outgoing[] = [];
    for (const record of batch.records) {
      const partitions = this.#layout.get(record.topic) as number;
      outgoing.push({
        topic: record.topic,
        // The recorded layout decides, not the producer's metadata: a topic that gained
        // partitions meanwhile must not receive a key on a new partition before we halt.
        message: {
          key: record.key,
          value: record.value,
          headers: record.headers,
          partition: partitionForKey(record.key, partitions),
        },
        bytes: record.sizeBytes,
        record,
      });
    }
    const transactionTopic = config.topics.transactionTopic;
    if (transactionTopic !== null) {
      for (const summary of batch.transactions) {
        const key = formatLsn(summary.commitLsn);
        const message = {
          key,
          partition: partitionForKey(key, this.#transactionPartitions),
          value: JSON.stringify({
            xid: summary.xid,
            commitLsn: formatLsn(summary.commitLsn),
            commitTime: new Date(Number(summary.commitTimeMicros / 1000n)).toISOString(),
            eventCount: summary.eventCount,
            capturer: config.name,
          }),
        };
        outgoing.push({ topic: transactionTopic, message, bytes: recordBatchBytes(message) });
      }
    }
    // The checkpoint rides in the same Kafka transaction as the events: both become
    // visible together or not at all, so the checkpoint never claims unwritten events.
    const checkpoint = {
      key: config.name,
      value: encodeCheckpoint(batch.checkpoint, {
        identity: this.#identity,
        slot: config.slot.name,
        partitions: this.#layout,
        confirmedLsn: batch.confirmedLsn,
        sequence: batch.checkpointSequence,
      }),
    };
    outgoing.push({
      topic: config.topics.checkpointTopic,
      message: checkpoint,
      bytes: recordBatchBytes(checkpoint),
    });
    return outgoing;
  }

  async #publishInTransaction(
    producer: KafkaProducer,
    batch: PublishBatch,
    sent: { records: readonly CaptureRecord[] },
  ): Promise<void> {
    const chunks = producerRequests(this.#outgoing(batch), this.#config.batch.maxRequestBytes);
    const transaction = await producer.begin();
    for (const items of chunks) {
      sent.records = items.flatMap((item) => (item.record === undefined ? [] : [item.record]));
      await transaction.send(toTopicMessages(items));
    }
    sent.records = [];
    // Only transactions carrying events: an idle capturer commits a checkpoint-only one
    // every second or so, and a test that counts produces means its events'.
    if (batch.records.length > 0) this.#crash('produce');
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

  /**
   * Records the partition count of topics at first use and halts when a recorded count
   * changed. Compared once per topic per `topics.partitionCheckIntervalMs`.
   *
   * @throws CaptureError `CAPTURE_PARTITIONS_CHANGED` (not retriable).
   */
  async #verifyLayout(topics: ReadonlySet<string>): Promise<void> {
    const now = performance.now();
    if (now - this.#layoutCheckedAt >= this.#config.topics.partitionCheckIntervalMs) {
      this.#verified.clear();
      this.#layoutCheckedAt = now;
    }
    for (const topic of topics) {
      if (this.#verified.has(topic)) continue;
      const partitions = await this.#ensureTopic(topic, 'events');
      const recorded = this.#layout.get(topic);
      if (recorded === undefined) {
        this.#layout.set(topic, partitions);
        this.#logger.info('recorded partition count of event topic', { topic, partitions });
      } else if (recorded !== partitions) {
        throw new CaptureError(
          'CAPTURE_PARTITIONS_CHANGED',
          `Topic ${topic} has ${partitions} partitions, but capturer "${this.#config.name}" recorded ${recorded} at its first use: ` +
            "keys would move to other partitions and consumers could see an aggregate's events out of order. Capture halted; nothing was published with the new layout. " +
            `Restore a topic with ${recorded} partitions, or re-partition as docs/capture.md describes (a new topic, then rebuild the projections from it).`,
          { details: { topic, recorded, actual: partitions } },
        );
      }
      this.#verified.add(topic);
    }
  }

  /** Creates the topic if allowed, or checks its settings; returns its partition count. */
  async #ensureTopic(
    topic: string,
    kind: 'events' | 'checkpoint' | 'transactions',
  ): Promise<number> {
    const admin = this.#admin;
    if (admin === undefined) throw new Error('admin not connected');
    const what = `creating or describing topic ${topic}`;
    try {
      if (!this.#known.has(topic) && !(await admin.listTopics()).includes(topic)) {
        if (!this.#config.topics.create) {
          throw new CaptureError(
            'CAPTURE_KAFKA_INDETERMINATE',
            `Topic ${topic} does not exist and topics.create is false`,
            { retriable: true },
          );
        }
        const settings = {
          ...(kind === 'checkpoint' ? checkpointTopicSettings() : eventTopicSettings()),
          ...(this.#config.topics.minInsyncReplicas > 0
            ? { 'min.insync.replicas': String(this.#config.topics.minInsyncReplicas) }
            : {}),
        };
        const partitions = kind === 'checkpoint' ? 1 : this.#config.topics.partitions;
        await admin.createTopics([
          {
            topic,
            partitions,
            replicationFactor: this.#config.topics.replicationFactor,
            configs: settings,
          },
        ]);
        this.#logger.info('created topic', { topic, kind, ...settings });
        this.#known.add(topic);
        // Another instance may have created it first with other settings: describe it.
        return (await admin.describeTopic(topic)).partitions;
      }
      const description = await admin.describeTopic(topic);
      if (!this.#known.has(topic)) {
        const hazards =
          kind === 'checkpoint'
            ? checkpointTopicHazards(description.configs)
            : eventTopicHazards(description.configs);
        for (const hazard of hazards) {
          this.#logger.warn(`TOPIC ${topic} CANNOT BE REPLAYED SAFELY: ${hazard}`, { topic, kind });
        }
        this.#known.add(topic);
      }
      return description.partitions;
    } catch (error) {
      return haltIfPermanent(error, what);
    }
  }
}

/** Splits records into produce requests of at most `maxBytes` (at least one record each). */
export function chunk(records: readonly CaptureRecord[], maxBytes: number): CaptureRecord[][] {
  const chunks = chunkBySize(records, maxBytes, (record) => record.sizeBytes);
  return chunks.length === 0 ? [[]] : chunks;
}

/**
 * Cuts a Kafka transaction's messages into produce requests of at most `maxBytes`, each for
 * one topic partition (messages without a partition: one topic), in the order each
 * partition's messages came; the groups follow in order of first appearance, so the
 * checkpoint (last, on its own topic) stays last.
 *
 * Why by partition: the kafkajs client sends each partition of a request on its own (a
 * retry of a multi-broker send could write records twice, single-partition-batches.ts), one
 * request after another. Chunks cut across all partitions became ~16 small requests each
 * (one per partition of the 5 × 3 topics plus the checkpoint), ~110 sequential requests per
 * 10,000-event transaction; grouped first they are ~20 (bench:capture: ~25–40 µs of
 * capturer CPU per event less, docs/benchmarks.md). Kafka orders only within a partition,
 * and the whole transaction becomes visible at its commit, so nothing else changes.
 */
export function producerRequests(outgoing: readonly Outgoing[], maxBytes: number): Outgoing[][] {
  const groups = new Map<string, Outgoing[]>();
  for (const item of outgoing) {
    const partition = item.message.partition;
    const key = partition === undefined ? item.topic : `${item.topic}\u0000${partition}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = [];
      groups.set(key, group);
    }
    group.push(item);
  }
  const requests: Outgoing[][] = [];
  for (const group of groups.values()) {
    for (const request of chunkBySize(group, maxBytes, (item) => item.bytes))
      requests.push(request);
  }
  return requests;
}

/** Groups messages by topic, keeping their order (Kafka keeps it per partition). */
function toTopicMessages(items: readonly Outgoing[]): KafkaTopicMessages[] {
  const byTopic = new Map<string, KafkaMessage[]>();
  for (const item of items) {
    let messages = byTopic.get(item.topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(item.topic, messages);
    }
    messages.push(item.message);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}
