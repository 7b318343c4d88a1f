import { randomUUID } from 'node:crypto';
import {
  KafkaIndeterminateError,
  type KafkaAdmin,
  type KafkaClient,
  type KafkaConsumer,
  type KafkaConsumerOptions,
  type KafkaProducer,
  type KafkaProducerOptions,
  type KafkaReadOptions,
  type KafkaRecord,
  type Logger,
  withTimeout,
} from '@tributary/core';
import { Kafka, logLevel } from 'kafkajs';
import { KafkajsAdmin } from './admin.js';
import { KafkajsConsumer } from './consumer.js';
import { deadConnectionSocketFactory } from './internal/dead-connection-socket.js';
import { installFastRecordEncoder } from './internal/kafkajs-record-encoder.js';
import { KafkajsProducer } from './producer.js';

/** Options of {@link createKafkajsClient}. */
export interface KafkajsClientOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** Client id. Default `tributary`. */
  readonly clientId?: string;
  /** Use TLS. Default `false`. */
  readonly ssl?: boolean;
  /**
   * Receives kafkajs's warnings and errors as debug lines: kafkajs logs every retry as an
   * error, and Tributary reports what matters itself. Default: silent.
   */
  readonly logger?: Logger;
  /** Retries of admin and consumer requests. Default 100 ms first delay, 5 retries. */
  readonly retry?: { readonly initialMs?: number; readonly retries?: number };
  /**
   * Replace kafkajs's record encoder with a byte-identical one that allocates once per
   * record (2–2.5× the produce rate with Tributary's headers). Default `true`.
   */
  readonly fastRecordEncoder?: boolean;
  /**
   * A connection on which a request got no byte back for this long is closed and dialled
   * again: kafkajs alone would keep writing into a half-open connection forever. Default
   * 30 000 ms (kafkajs's request timeout, which bounds every legitimate wait).
   */
  readonly deadConnectionTimeoutMs?: number;
}

class KafkajsClient implements KafkaClient {
  readonly #kafka: Kafka;
  readonly #fastEncoder: boolean;

  constructor(options: KafkajsClientOptions) {
    const logger = options.logger;
    // Before the first produce request: kafkajs loads its record encoder lazily with it.
    const fast = (options.fastRecordEncoder ?? true) && installFastRecordEncoder();
    if ((options.fastRecordEncoder ?? true) && !fast) {
      logger?.debug('kafkajs record encoder already loaded; the fast encoder is not used');
    }
    this.#fastEncoder = fast;
    this.#kafka = new Kafka({
      clientId: options.clientId ?? 'tributary',
      brokers: [...options.brokers],
      ssl: options.ssl ?? false,
      socketFactory: deadConnectionSocketFactory(options.deadConnectionTimeoutMs ?? 30_000),
      logLevel: logger === undefined ? logLevel.NOTHING : logLevel.WARN,
      ...(logger === undefined
        ? {}
        : {
            logCreator:
              () =>
              ({ level, log }) => {
                const { message, ...rest } = log;
                logger.debug(`kafkajs: ${message}`, { ...rest, kafkaLevel: level });
              },
          }),
      retry: {
        initialRetryTime: options.retry?.initialMs ?? 100,
        retries: options.retry?.retries ?? 5,
      },
    });
  }

  producer(options: KafkaProducerOptions = {}): KafkaProducer {
    return new KafkajsProducer(this.#kafka, options, () => this.#fastEncoder);
  }

  consumer(options: KafkaConsumerOptions): KafkaConsumer {
    return new KafkajsConsumer(this.#kafka, options);
  }

  admin(): KafkaAdmin {
    return new KafkajsAdmin(this.#kafka);
  }

  async readCommitted(
    topic: string,
    onRecord: (record: KafkaRecord) => void,
    options: KafkaReadOptions = {},
  ): Promise<void> {
    const admin = this.admin();
    await admin.connect();
    const targets = new Map<number, bigint>();
    try {
      for (const offsets of await admin.fetchOffsets(topic)) {
        if (offsets.lastStableOffset > offsets.earliest) {
          targets.set(offsets.partition, offsets.lastStableOffset);
        }
      }
    } finally {
      await admin.disconnect();
    }
    if (targets.size === 0) return;
    const consumer = this.#kafka.consumer({
      // A throwaway group: nothing is committed, kafkajs just has no group-less reading.
      groupId: `tributary.read-committed.${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
    });
    const positions = new Map<number, bigint>();
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const advance = (partition: number, next: bigint): void => {
      if (next > (positions.get(partition) ?? 0n)) positions.set(partition, next);
      for (const [target, end] of targets) {
        if ((positions.get(target) ?? 0n) < end) return;
      }
      done();
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
          const offset = BigInt(message.offset);
          if (offset < (targets.get(partition) ?? 0n)) {
            onRecord({
              topic,
              partition,
              offset,
              key: message.key,
              value: message.value,
              headers: message.headers ?? {},
            });
          }
          advance(partition, offset + 1n);
          return Promise.resolve();
        },
      });
      await withTimeout(
        finished,
        options.timeoutMs ?? 30_000,
        () =>
          new KafkaIndeterminateError(
            `reading ${topic} did not finish within ${options.timeoutMs ?? 30_000} ms`,
          ),
      );
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }
}

/**
 * A {@link KafkaClient} on kafkajs 2.2.4. Producers are idempotent with one request in
 * flight, retry a few milliseconds after CONCURRENT_TRANSACTIONS and give up after a
 * bounded number of retries; consumers read `read_committed`; fencing errors (including
 * PRODUCER_FENCED, error code 90, which kafkajs does not name) become
 * `KafkaProducerFencedError`.
 */
export function createKafkajsClient(options: KafkajsClientOptions): KafkaClient {
  return new KafkajsClient(options);
}
