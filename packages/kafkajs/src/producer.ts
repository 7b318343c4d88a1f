import type {
  KafkaProducer,
  KafkaProducerOptions,
  KafkaTopicMessages,
  KafkaTransaction,
} from '@tributary/core';
import {
  CompressionTypes,
  Partitioners,
  type Kafka,
  type Producer,
  type TopicMessages,
  type Transaction,
} from 'kafkajs';
import { producerError, translated } from './errors.js';
import { normalizeForKafkajs } from './internal/kafkajs-record-encoder.js';
import { singlePartitionBatches } from './internal/single-partition-batches.js';
import {
  checkedConnect,
  noConnectFailureCheck,
  type ConnectFailureCheck,
} from './internal/tls-required.js';

/**
 * Producer defaults, measured on kafkajs 2.2.4:
 * - idempotence needs `maxInFlightRequests: 1`;
 * - after a commit, the next transaction's first AddPartitionsToTxn is answered with
 *   CONCURRENT_TRANSACTIONS while the coordinator writes the previous markers; kafkajs
 *   retries after `initialRetryTime` (300 ms by default), which would cap a transactional
 *   producer at ~3 transactions/s, so a few milliseconds instead;
 * - idempotent producers retry forever by default; a bounded count turns a stuck broker
 *   into an error the caller can restart from.
 */
export const producerDefaults = { retryInitialMs: 5, retries: 12, maxRetryMs: 2_000 } as const;

/**
 * The port's records are passed to kafkajs as they are: the fast record encoder writes
 * strings, Buffers and plain Uint8Arrays itself; only without it do bytes need converting.
 */
const asTopicMessages = (
  batch: readonly KafkaTopicMessages[],
  fastEncoder: boolean,
): TopicMessages[] =>
  (fastEncoder ? batch : batch.map(normalizeForKafkajs)) as unknown as TopicMessages[];

class KafkajsTransaction implements KafkaTransaction {
  constructor(
    private readonly transaction: Transaction,
    private readonly transactionalId: string,
    private readonly compression: CompressionTypes,
    private readonly fastEncoder: boolean,
  ) {}

  send(batch: readonly KafkaTopicMessages[]): Promise<void> {
    return translated(
      async () => {
        // One partition per kafkajs send, so that its retry cannot write records twice
        // (single-partition-batches.ts). One after another: concurrent sends of one
        // transaction would race their AddPartitionsToTxn requests at the coordinator.
        for (const single of singlePartitionBatches(batch)) {
          await this.transaction.sendBatch({
            topicMessages: asTopicMessages(single, this.fastEncoder),
            acks: -1,
            compression: this.compression,
          });
        }
      },
      (error) => producerError(error, this.transactionalId, 'sending in a transaction'),
    );
  }

  commit(): Promise<void> {
    return translated(
      () => this.transaction.commit(),
      (error) => producerError(error, this.transactionalId, 'committing a transaction'),
    );
  }

  abort(): Promise<void> {
    return translated(
      () => this.transaction.abort(),
      (error) => producerError(error, this.transactionalId, 'aborting a transaction'),
    );
  }
}

/** A {@link KafkaProducer} on kafkajs. */
export class KafkajsProducer implements KafkaProducer {
  readonly #producer: Producer;
  readonly #transactionalId: string | undefined;
  readonly #compression: CompressionTypes;
  readonly #fastEncoder: () => boolean;
  readonly #checkConnect: ConnectFailureCheck;

  constructor(
    kafka: Kafka,
    options: KafkaProducerOptions,
    fastEncoder: () => boolean,
    checkConnect: ConnectFailureCheck = noConnectFailureCheck,
  ) {
    this.#checkConnect = checkConnect;
    this.#transactionalId = options.transactionalId;
    this.#compression =
      options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    this.#fastEncoder = fastEncoder;
    this.#producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      ...(options.transactionalId === undefined
        ? {}
        : { transactionalId: options.transactionalId }),
      ...(options.transactionTimeoutMs === undefined
        ? {}
        : { transactionTimeout: options.transactionTimeoutMs }),
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: {
        initialRetryTime: options.retry?.initialMs ?? producerDefaults.retryInitialMs,
        maxRetryTime: producerDefaults.maxRetryMs,
        retries: options.retry?.retries ?? producerDefaults.retries,
      },
    });
  }

  connect(): Promise<void> {
    const connect = (): Promise<void> =>
      translated(
        async () => {
          await this.#producer.connect();
          if (this.#transactionalId !== undefined) {
            // kafkajs's connect() initialises a plain idempotent producer id; the
            // transactional InitProducerId, which bumps the epoch of the transactional id
            // (fencing older instances and aborting their open transaction), waits for the
            // first transaction(). Beginning and ending an empty one runs it now, so that
            // connect() fences as the port promises; an empty transaction sends no EndTxn.
            const transaction = await this.#producer.transaction();
            await transaction.abort();
          }
        },
        (error) => producerError(error, this.#transactionalId, 'connecting the producer'),
      );
    return checkedConnect(connect, this.#checkConnect, 'connecting the producer');
  }

  send(batch: readonly KafkaTopicMessages[]): Promise<void> {
    return translated(
      async () => {
        await this.#producer.sendBatch({
          topicMessages: asTopicMessages(batch, this.#fastEncoder()),
          acks: -1,
          compression: this.#compression,
        });
      },
      (error) => producerError(error, this.#transactionalId, 'sending'),
    );
  }

  async begin(): Promise<KafkaTransaction> {
    const transactionalId = this.#transactionalId;
    if (transactionalId === undefined) {
      throw new TypeError('Only a producer with a transactionalId can begin a transaction');
    }
    const transaction = await translated(
      () => this.#producer.transaction(),
      (error) => producerError(error, transactionalId, 'beginning a transaction'),
    );
    return new KafkajsTransaction(
      transaction,
      transactionalId,
      this.#compression,
      this.#fastEncoder(),
    );
  }

  disconnect(): Promise<void> {
    return this.#producer.disconnect();
  }
}
