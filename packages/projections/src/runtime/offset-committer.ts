/**
 * Commits Kafka offsets of one consumer in the background, for lag tools only (the database
 * checkpoint is what the runtime trusts): at most one commit in flight per partition, and a
 * batch that commits while one is in flight only replaces the offset to commit next, so the
 * applier never waits for a broker round trip between two batches and commits of one
 * partition never overtake each other (the committed offset only moves forward). A commit
 * still in flight when the consumer stops fails (logged); the next owner commits again.
 */
export class BackgroundOffsetCommitter {
  readonly #commit: (topic: string, partition: number, offset: bigint) => Promise<void>;
  readonly #onError: (topic: string, partition: number, error: unknown) => void;
  readonly #partitions = new Map<string, { pending: bigint | undefined; running: boolean }>();

  constructor(options: {
    /** One commit of one partition's offset (the port's `commitOffsets`). */
    readonly commit: (topic: string, partition: number, offset: bigint) => Promise<void>;
    /** A failed commit: logged by the caller, never retried (the next batch commits again). */
    readonly onError: (topic: string, partition: number, error: unknown) => void;
  }) {
    this.#commit = options.commit;
    this.#onError = options.onError;
  }

  /** Schedules `offset` (the next offset to read) of a partition; returns at once. */
  commit(topic: string, partition: number, offset: bigint): void {
    const key = `${topic}\u0000${partition}`;
    let state = this.#partitions.get(key);
    if (state === undefined) {
      state = { pending: undefined, running: false };
      this.#partitions.set(key, state);
    }
    state.pending = offset;
    if (state.running) return;
    state.running = true;
    void this.#drain(topic, partition, state);
  }

  async #drain(
    topic: string,
    partition: number,
    state: { pending: bigint | undefined; running: boolean },
  ): Promise<void> {
    try {
      for (let offset = state.pending; offset !== undefined; offset = state.pending) {
        state.pending = undefined;
        try {
          await this.#commit(topic, partition, offset);
        } catch (error) {
          this.#onError(topic, partition, error);
        }
      }
    } finally {
      state.running = false;
    }
  }
}
