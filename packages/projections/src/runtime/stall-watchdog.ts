/**
 * The projection stall watchdog. A consumer can stop delivering without failing: a handler
 * whose promise never settles, or a Kafka client whose fetch loop hangs after a broker
 * fault (kafkajs has such reports, and one fault-matrix run showed a projection with lag
 * that applied nothing for 18 minutes while its member kept rejoining the group). Neither
 * raises an error, so nothing else would ever notice. The watchdog compares each assigned
 * partition's stored checkpoint with what there is to apply, and reports the partitions
 * whose checkpoint has not moved for `timeoutMs` although records lie beyond it.
 */

/** One assigned partition: where its checkpoint is and how far it has to go. */
export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** The stored checkpoint (next offset to apply); the earliest offset when never applied. */
  readonly nextOffset: number;
  /** What there is to apply: the last stable offset, or a rebuild's apply-below limit. */
  readonly targetOffset: number;
}

/** A partition that kept records to apply while its checkpoint stayed put. */
export interface StalledPartition extends PartitionProgress {
  /** How long its checkpoint has stayed at `nextOffset` with records beyond it. */
  readonly stalledForMs: number;
}

/** Options of {@link StallWatchdog}. */
export interface StallWatchdogOptions {
  /** Longest a partition's checkpoint may stay put while records lie beyond it. */
  readonly timeoutMs: number;
  /** The current assignment's progress; a failure (Kafka unreachable) skips that check. */
  readonly probe: () => Promise<readonly PartitionProgress[]>;
  /** Called once, with every partition stalled at that check; the watchdog then stops. */
  readonly onStall: (stalled: readonly StalledPartition[]) => void;
  /** Called when a probe fails (its error); the check is skipped. */
  readonly onProbeFailure?: (error: unknown) => void;
  /** Between two checks. Default: a quarter of `timeoutMs`, between 250 ms and 30 s. */
  readonly intervalMs?: number;
  /** The clock. Default `Date.now`. */
  readonly now?: () => number;
}

const key = (topic: string, partition: number): string => `${topic}/${partition}`;

/**
 * Checks progress every `intervalMs` (see {@link StallWatchdogOptions}). Only the checkpoint
 * counts as progress — a batch that is fetched again and again but never commits is a
 * stall too — except that a batch retry ({@link touch}) restarts the partition's clock:
 * retries are bounded and end in the poison policy, so they are not a silent stop. While
 * the probe fails (Kafka or PostgreSQL unreachable, which the consumer reports itself), no
 * partition counts as stalled. A partition missing from the probe (not assigned during a
 * rebalance) keeps its clock: a consumer caught in endless rebalances would otherwise never
 * be reported. If it went to another member, that member's progress moves the checkpoint,
 * which restarts the clock when the partition comes back.
 */
export class StallWatchdog {
  readonly #options: StallWatchdogOptions;
  readonly #now: () => number;
  /** Per lagging partition: the checkpoint it is stuck at and since when. */
  readonly #lagging = new Map<string, { nextOffset: number; sinceMs: number }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #checking = false;
  #fired = false;

  constructor(options: StallWatchdogOptions) {
    if (!Number.isSafeInteger(options.timeoutMs) || options.timeoutMs < 1)
      throw new RangeError(`stall timeout must be a positive integer, got ${options.timeoutMs}`);
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Checks periodically until {@link stop} or a stall. */
  start(): void {
    if (this.#timer !== undefined || this.#fired) return;
    const interval =
      this.#options.intervalMs ??
      Math.min(30_000, Math.max(250, Math.floor(this.#options.timeoutMs / 4)));
    this.#timer = setInterval(() => void this.check(), interval);
    // The watchdog alone must not keep a process alive.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** A retry of a batch on this partition: a sign of life, so its clock starts again. */
  touch(topic: string, partition: number): void {
    const entry = this.#lagging.get(key(topic, partition));
    if (entry !== undefined) entry.sinceMs = this.#now();
  }

  /**
   * One check (also what the timer runs): probes, updates the clocks, and calls `onStall`
   * when a partition has been stuck for `timeoutMs`. Returns the stalled partitions.
   */
  async check(): Promise<readonly StalledPartition[]> {
    if (this.#checking || this.#fired) return [];
    this.#checking = true;
    try {
      let progress: readonly PartitionProgress[];
      try {
        progress = await this.#options.probe();
      } catch (error) {
        this.#options.onProbeFailure?.(error);
        return [];
      }
      const now = this.#now();
      const stalled: StalledPartition[] = [];
      for (const partition of progress) {
        const id = key(partition.topic, partition.partition);
        if (partition.targetOffset <= partition.nextOffset) {
          this.#lagging.delete(id);
          continue;
        }
        const entry = this.#lagging.get(id);
        if (entry === undefined || entry.nextOffset !== partition.nextOffset) {
          this.#lagging.set(id, { nextOffset: partition.nextOffset, sinceMs: now });
          continue;
        }
        const stalledForMs = now - entry.sinceMs;
        if (stalledForMs >= this.#options.timeoutMs) stalled.push({ ...partition, stalledForMs });
      }
      if (stalled.length > 0) {
        this.#fired = true;
        this.stop();
        this.#options.onStall(stalled);
      }
      return stalled;
    } finally {
      this.#checking = false;
    }
  }
}
