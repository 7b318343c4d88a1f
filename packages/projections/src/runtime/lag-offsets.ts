import type { KafkaConsumer, KafkaTopicPartitionOffset } from '@tributary/core';

/**
 * Commits the runtime's progress to Kafka for lag tools (kafka-consumer-groups, Burrow) off
 * the batch path. The database checkpoint is what the runtime trusts, so awaiting the
 * broker after every batch only delayed the next one by a round trip: instead each partition
 * keeps its newest offset, one commit request is in flight per consumer at a time, and the
 * offsets given meanwhile go together in the next one. Kafka's committed offsets trail the
 * database by at most the batches committed during one request.
 */
export class LagOffsetCommitter {
  readonly #consumer: Pick<KafkaConsumer, 'commitOffsets'>;
  readonly #onError: (error: unknown) => void;
  readonly #pending = new Map<string, KafkaTopicPartitionOffset>();
  #inFlight: Promise<void> | undefined;

  /**
   * @param consumer the consumer whose group gets the offsets.
   * @param onError told of a failed commit (a rebalance, a moved coordinator): nothing is
   * retried, the next batch of the partition commits a newer offset anyway.
   */
  constructor(consumer: Pick<KafkaConsumer, 'commitOffsets'>, onError: (error: unknown) => void) {
    this.#consumer = consumer;
    this.#onError = onError;
  }

  /** Queues `offset` (the next offset to read) of a partition; returns at once. */
  commit(position: KafkaTopicPartitionOffset): void {
    this.#pending.set(`${position.topic}/${position.partition}`, position);
    this.#inFlight ??= this.#drain();
  }

  /** Settles once every offset queued so far was committed or failed; never rejects. */
  flush(): Promise<void> {
    return this.#inFlight ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    // Lets the caller's synchronous code (more partitions of the same fetch) queue first.
    await Promise.resolve();
    while (this.#pending.size > 0) {
      const offsets = [...this.#pending.values()];
      this.#pending.clear();
      try {
        await this.#consumer.commitOffsets(offsets);
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#inFlight = undefined;
  }
}
