import { IllegalStateError, InvalidTransactionStateError } from './errors.js';
import { attempt } from './internal/attempt.js';
import type { Broker, TransactionState } from './internal/broker.js';
import type { ProducerRecord, RecordMetadata } from './types.js';

/** Options of `InMemoryKafkaLog.producer`. */
export interface ProducerOptions {
  /**
   * Makes the producer transactional. A stable id per logical writer (e.g. per capturer)
   * is what lets a restarted instance fence its zombie predecessor.
   */
  readonly transactionalId?: string;
}

/**
 * A producer of the in-memory log, shaped like a kafkajs producer.
 *
 * Methods return promises so that callers are written as they would be against kafkajs,
 * but each call takes effect synchronously before its promise is returned: the order of
 * calls is the order of effects, which keeps tests deterministic.
 *
 * Records without key or explicit partition go round-robin over the partitions starting
 * at 0 per producer and topic (kafkajs also round-robins, from a random start; the Java
 * client is sticky). Keyed records use Kafka's murmur2 partitioner.
 */
export class InMemoryProducer {
  /** The transactional id, if this producer is transactional. */
  readonly transactionalId: string | undefined;
  private readonly roundRobin = new Map<string, number>();
  private epoch: number | undefined;
  private disconnected = false;

  /**
   * @internal Created by `InMemoryKafkaLog.producer`.
   */
  constructor(
    private readonly broker: Broker,
    options: ProducerOptions,
  ) {
    this.transactionalId = options.transactionalId;
  }

  /**
   * Connects. For a transactional producer this is Kafka's `initTransactions`: it bumps
   * the epoch of the transactional id, which fences every older instance and aborts the
   * transaction an older instance left open. Calling it again is a no-op.
   */
  connect(): Promise<void> {
    this.assertConnectable();
    if (this.transactionalId !== undefined && this.epoch === undefined) {
      this.epoch = this.broker.initTransactions(this.transactionalId);
    }
    return Promise.resolve();
  }

  /**
   * Appends the messages immediately and visibly (no transaction).
   *
   * @throws InvalidTransactionStateError on a transactional producer, which (as in Kafka)
   *   may only write inside a transaction.
   */
  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return attempt(() => {
      this.assertConnectable();
      if (this.transactionalId !== undefined) {
        throw new InvalidTransactionStateError(
          `Transactional producer "${this.transactionalId}" must send inside a transaction`,
        );
      }
      return this.broker.append(record, null, (topic, partitions) =>
        this.nextRoundRobin(topic, partitions),
      );
    });
  }

  /**
   * Begins a transaction (connecting first if needed). One transaction at a time, as in
   * Kafka.
   *
   * @throws ProducerFencedError if a newer instance with the same transactional id connected.
   * @throws InvalidTransactionStateError if the producer is not transactional or a transaction is open.
   */
  transaction(): Promise<InMemoryTransaction> {
    return attempt(() => {
      const transactionalId = this.transactionalId;
      if (transactionalId === undefined) {
        throw new InvalidTransactionStateError(
          'Only a producer with a transactionalId can begin a transaction',
        );
      }
      this.assertConnectable();
      const epoch = (this.epoch ??= this.broker.initTransactions(transactionalId));
      // The broker checks the epoch before the open transaction, so a fenced producer
      // learns it is fenced rather than being told it still has a transaction open.
      const state = this.broker.beginTransaction(transactionalId, epoch);
      return new InMemoryTransaction(
        this.broker,
        transactionalId,
        epoch,
        state,
        (topic, partitions) => this.nextRoundRobin(topic, partitions),
      );
    });
  }

  /**
   * Disconnects. Like closing a Kafka producer, this does NOT abort an open transaction:
   * it stays open (holding back the LSO) until a new instance with the same
   * transactional id connects and aborts it.
   */
  disconnect(): Promise<void> {
    this.disconnected = true;
    return Promise.resolve();
  }

  private assertConnectable(): void {
    if (this.disconnected) throw new IllegalStateError('Producer is disconnected');
  }

  private nextRoundRobin(topic: string, partitions: number): number {
    const counter = this.roundRobin.get(topic) ?? 0;
    this.roundRobin.set(topic, counter + 1);
    return counter % partitions;
  }
}

/**
 * An open Kafka transaction. Its records occupy offsets as soon as they are sent, but
 * `read_committed` readers see none of them until `commit`, and never after `abort`.
 */
export class InMemoryTransaction {
  private active = true;

  /** @internal Created by `InMemoryProducer.transaction`. */
  constructor(
    private readonly broker: Broker,
    private readonly transactionalId: string,
    private readonly epoch: number,
    private readonly state: TransactionState,
    private readonly chooseUnkeyed: (topic: string, partitions: number) => number,
  ) {}

  /** Whether the transaction can still send, commit or abort. */
  isActive(): boolean {
    return this.active;
  }

  /**
   * Appends the messages inside the transaction.
   *
   * @throws ProducerFencedError if a newer instance took over the transactional id.
   * @throws InvalidTransactionStateError after commit or abort.
   */
  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return attempt(() => {
      this.assertActive('send');
      this.broker.assertCurrentEpoch(this.transactionalId, this.epoch);
      return this.broker.append(record, this.state, this.chooseUnkeyed);
    });
  }

  /** Commits: writes a COMMIT marker to every touched partition and makes all records visible at once. */
  commit(): Promise<void> {
    return this.end('commit');
  }

  /** Aborts: writes an ABORT marker to every touched partition; its records stay hidden from `read_committed`. */
  abort(): Promise<void> {
    return this.end('abort');
  }

  private end(outcome: 'commit' | 'abort'): Promise<void> {
    return attempt(() => {
      this.assertActive(outcome);
      // A fenced producer stays "active" locally but can no longer end anything: the new
      // instance already aborted this transaction, so neither outcome may be reported.
      this.broker.endTransaction(this.transactionalId, this.epoch, this.state, outcome);
      this.active = false;
    });
  }

  private assertActive(call: string): void {
    if (!this.active) {
      throw new InvalidTransactionStateError(
        `Cannot ${call}: the transaction of "${this.transactionalId}" is already completed`,
      );
    }
  }
}
