import {
  KafkaProducerFencedError,
  type KafkaProducer,
  type KafkaProducerOptions,
  type KafkaTopicMessages,
  type KafkaTransaction,
} from '@tributary/core';
import { Producer, ProduceAcks } from '@platformatic/kafka';
import { producerError, translated } from './errors.js';
import type { ConnectionSettings } from './internal/connection.js';
import { javaCompatiblePartitioner, toMessages } from './internal/records.js';
import type { TlsRequiredDetector } from './internal/tls-required.js';

/**
 * Producer defaults, the same as the kafkajs client's: after a commit the coordinator answers
 * the next transaction's AddPartitionsToTxn with CONCURRENT_TRANSACTIONS until it has written
 * the markers, so the first retry comes after a few milliseconds; the library retries an
 * idempotent producer forever unless told otherwise, and a bounded count turns a stuck broker
 * into an error the caller can restart from.
 */
export const producerDefaults = {
  retryInitialMs: 5,
  retries: 12,
  maxRetryMs: 2_000,
  transactionTimeoutMs: 60_000,
} as const;

/** The library's transaction (its class is not exported by name). */
type Transaction = Awaited<ReturnType<Producer['beginTransaction']>>;

/** A {@link KafkaTransaction} on @platformatic/kafka. */
class PlatformaticTransaction implements KafkaTransaction {
  constructor(
    private readonly owner: PlatformaticProducer,
    private readonly transaction: Transaction,
  ) {}

  private sent = false;

  send(batch: readonly KafkaTopicMessages[]): Promise<void> {
    return this.owner.guarded('sending in a transaction', async () => {
      this.sent = true;
      await this.transaction.send({ messages: toMessages(batch) });
    });
  }

  commit(): Promise<void> {
    return this.owner.guarded('committing a transaction', () => this.#end(true));
  }

  abort(): Promise<void> {
    return this.owner.guarded('aborting a transaction', () => this.#end(false));
  }

  #end(commit: boolean): Promise<void> {
    // A transaction that sent nothing holds no partitions: the broker has nothing to end
    // (and refuses an EndTxn in that state), so only the local state is cleared.
    if (!this.sent) return this.transaction.cancel();
    return commit ? this.transaction.commit() : this.transaction.abort();
  }
}

/**
 * A {@link KafkaProducer} on @platformatic/kafka: idempotent (acks from all in-sync replicas,
 * one request in flight), Java-compatible key partitioning, no topic auto-creation. A fenced
 * producer stays fenced: the library would otherwise initialise a new producer id on the
 * next transaction and fence the instance that took over.
 */
export class PlatformaticProducer implements KafkaProducer {
  readonly #producer: Producer;
  readonly #transactionalId: string | undefined;
  readonly #tlsRequired: TlsRequiredDetector;
  #fenced: KafkaProducerFencedError | undefined;

  constructor(connection: ConnectionSettings, options: KafkaProducerOptions) {
    this.#transactionalId = options.transactionalId;
    this.#tlsRequired = connection.tlsRequired;
    const initialMs = options.retry?.initialMs ?? producerDefaults.retryInitialMs;
    this.#producer = new Producer({
      ...connection.base,
      idempotent: true,
      acks: ProduceAcks.ALL,
      // "No producer id yet", as the Java client says it. The library's default (id 0,
      // epoch 0) asks the coordinator to bump that exact producer, which it refuses with
      // PRODUCER_FENCED once the transactional id belongs to another producer id, i.e.
      // whenever a restarted instance connects.
      producerId: -1n,
      producerEpoch: -1,
      ...(options.transactionalId === undefined
        ? {}
        : {
            transactionalId: options.transactionalId,
            // The library sends its `timeout` option as InitProducerId's transaction
            // timeout (and as the produce requests' acknowledgement timeout).
            timeout: options.transactionTimeoutMs ?? producerDefaults.transactionTimeoutMs,
          }),
      compression: options.compression === 'gzip' ? 'gzip' : 'none',
      partitioner: javaCompatiblePartitioner,
      autocreateTopics: false,
      retries: options.retry?.retries ?? producerDefaults.retries,
      retryDelay: (_client, _operation, attempt) => {
        connection.tlsRequired.noticeRetry();
        return Math.min(initialMs * 2 ** Math.max(0, attempt - 1), producerDefaults.maxRetryMs);
      },
    });
  }

  /** Runs a producer call: refused once fenced; failures typed; fencing remembered. */
  async guarded<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (this.#fenced !== undefined) throw this.#fenced;
    try {
      return await call();
    } catch (error) {
      const typed = producerError(error, this.#transactionalId, what);
      if (typed instanceof KafkaProducerFencedError) this.#fenced = typed;
      throw typed;
    }
  }

  connect(): Promise<void> {
    const connect = (): Promise<void> =>
      this.guarded('connecting the producer', async () => {
        await this.#producer.connectToBrokers(null);
        if (this.#transactionalId !== undefined) {
          // The transactional InitProducerId, which bumps the epoch of the transactional id
          // (fencing older instances and aborting their open transaction), runs with the first
          // transaction. Beginning one runs it now, so that connect() fences as the port
          // promises; cancelling it only drops local state (it holds no partitions, so there
          // is nothing to end on the broker, which would refuse an EndTxn anyway).
          const transaction = await this.#producer.beginTransaction();
          await transaction.cancel();
        }
      });
    return this.#tlsRequired.connect(connect, 'connecting the producer');
  }

  send(batch: readonly KafkaTopicMessages[]): Promise<void> {
    return this.guarded('sending', async () => {
      await this.#producer.send({ messages: toMessages(batch) });
    });
  }

  async begin(): Promise<KafkaTransaction> {
    const transactionalId = this.#transactionalId;
    if (transactionalId === undefined) {
      throw new TypeError('Only a producer with a transactionalId can begin a transaction');
    }
    const transaction = await this.guarded('beginning a transaction', () =>
      this.#producer.beginTransaction(),
    );
    return new PlatformaticTransaction(this, transaction);
  }

  async disconnect(): Promise<void> {
    // An open transaction is left to the next instance to abort, as the port says.
    await translated(
      () => this.#producer.close(),
      (error) => producerError(error, undefined, 'disconnecting the producer'),
    );
  }
}
