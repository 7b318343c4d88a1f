import { IllegalStateError, OffsetOutOfRangeError, RebalanceInProgressError } from './errors.js';
import { attempt } from './internal/attempt.js';
import type { Broker } from './internal/broker.js';
import type { IsolationLevel, LogBatch, TopicPartition, TopicPartitionOffset } from './types.js';

/** Called with the partitions a rebalance takes away or hands over; awaited inside `poll`. */
export type RebalanceListener = (partitions: readonly TopicPartition[]) => void | Promise<void>;

/** Options of `InMemoryKafkaLog.consumer`. */
export interface ConsumerOptions {
  /** The consumer group; committed offsets and partition assignment are per group. */
  readonly groupId: string;
  /** Prefix of the generated member id; default `'consumer'`. */
  readonly clientId?: string;
  /** Default `'read_committed'`, as in kafkajs (the Java client defaults to `read_uncommitted`). */
  readonly isolationLevel?: IsolationLevel;
  /** Most records one `poll` returns across partitions; default 500 (Kafka's `max.poll.records`). */
  readonly maxPollRecords?: number;
  /**
   * Kafka's `onPartitionsAssigned`: runs inside `poll` after a rebalance, before any fetch,
   * so it can `seek` each partition to an externally stored offset.
   */
  readonly onPartitionsAssigned?: RebalanceListener;
  /**
   * Kafka's `onPartitionsRevoked`: runs inside `poll` (or `disconnect`) before the
   * partitions are given up; offsets may still be committed from it.
   */
  readonly onPartitionsRevoked?: RebalanceListener;
}

/** Options of `InMemoryConsumer.subscribe` (kafkajs `ConsumerSubscribeTopics`). */
export interface SubscribeOptions {
  /** Topics to add to the subscription; they must exist. */
  readonly topics: readonly string[];
  /**
   * Where to start a partition the group has no committed offset for: the earliest
   * offset if `true`, else the end (LSO for `read_committed`, high watermark otherwise,
   * as Kafka's ListOffsets answers). Default `false`, as in kafkajs.
   */
  readonly fromBeginning?: boolean;
}

/** Options of `InMemoryConsumer.poll`. */
export interface PollOptions {
  /** Most records to return across all partitions; default the consumer's `maxPollRecords`. */
  readonly maxRecords?: number;
}

const positionKey = (topic: string, partition: number): string =>
  `${topic}\u0000${String(partition)}`;

/**
 * A consumer-group member of the in-memory log, modelled on Kafka's poll loop with the
 * classic (eager) rebalance protocol.
 *
 * Membership changes bump the group's generation at once; each member adopts the new
 * assignment on its next `poll`, revoking all its partitions and re-reading positions from
 * the committed offsets, as eager Kafka consumers do. Kafka's join barrier is not
 * modelled: a member that has not polled since a rebalance still believes it owns its
 * old partitions, like a zombie, and its offset commits are refused.
 */
export class InMemoryConsumer {
  /** The group this member belongs to. */
  readonly groupId: string;
  /** This member's id, unique within the log. */
  readonly memberId: string;
  /** The isolation level of every fetch. */
  readonly isolationLevel: IsolationLevel;
  private readonly maxPollRecords: number;
  private readonly onPartitionsAssigned: RebalanceListener | undefined;
  private readonly onPartitionsRevoked: RebalanceListener | undefined;
  private readonly fromBeginning = new Map<string, boolean>();
  private readonly positions = new Map<string, number>();
  private assigned: TopicPartition[] = [];
  private generation = 0;
  private cursor = 0;
  private subscribed = false;
  private disconnected = false;
  private polling = false;
  private revoking = false;

  /** @internal Created by `InMemoryKafkaLog.consumer`. */
  constructor(
    private readonly broker: Broker,
    options: ConsumerOptions,
  ) {
    this.groupId = options.groupId;
    this.memberId = broker.allocateMemberId(options.clientId ?? 'consumer');
    this.isolationLevel = options.isolationLevel ?? 'read_committed';
    this.maxPollRecords = options.maxPollRecords ?? 500;
    this.onPartitionsAssigned = options.onPartitionsAssigned;
    this.onPartitionsRevoked = options.onPartitionsRevoked;
  }

  /**
   * Adds topics to the subscription (joining the group on the first call) and triggers a
   * rebalance of the group.
   *
   * @throws UnknownTopicError if a topic does not exist (no auto-creation).
   */
  subscribe(options: SubscribeOptions): Promise<void> {
    return attempt(() => {
      this.assertConnected();
      this.broker.subscribe(this.groupId, this.memberId, options.topics);
      for (const topic of options.topics)
        this.fromBeginning.set(topic, options.fromBeginning ?? false);
      this.subscribed = true;
    });
  }

  /**
   * Adopts a pending rebalance (running the listeners), then returns the next visible
   * records of the assigned partitions and advances the in-memory positions past them.
   * Partitions are visited round-robin from one poll to the next so none is starved by
   * `maxRecords`. Returns only non-empty batches; never waits for new records.
   */
  async poll(options: PollOptions = {}): Promise<LogBatch[]> {
    this.assertConnected();
    if (!this.subscribed)
      throw new IllegalStateError(`Consumer ${this.memberId} must subscribe before polling`);
    if (this.polling) throw new IllegalStateError(`Consumer ${this.memberId} is already polling`);
    this.polling = true;
    try {
      await this.adoptCurrentGeneration();
      let remaining = options.maxRecords ?? this.maxPollRecords;
      const batches: LogBatch[] = [];
      const count = this.assigned.length;
      for (let step = 0; step < count && remaining > 0; step++) {
        const assigned = this.assigned[(this.cursor + step) % count];
        if (assigned === undefined) continue;
        const { topic, partition } = assigned;
        const fetched = this.broker.fetch(
          topic,
          partition,
          this.position(assigned),
          this.isolationLevel,
          remaining,
        );
        this.positions.set(positionKey(topic, partition), fetched.nextOffset);
        if (fetched.records.length === 0) continue;
        remaining -= fetched.records.length;
        batches.push({
          topic,
          partition,
          records: fetched.records,
          highWatermark: fetched.highWatermark,
          lastStableOffset: fetched.lastStableOffset,
        });
      }
      if (count > 0) this.cursor = (this.cursor + 1) % count;
      return batches;
    } finally {
      this.polling = false;
    }
  }

  /** The partitions this member currently consumes, sorted by topic then partition. */
  assignment(): TopicPartition[] {
    return this.assigned.map((assigned) => ({ ...assigned }));
  }

  /**
   * The offset of the next record `poll` will read from an assigned partition. Resolved on
   * first use from the group's committed offset, else from `fromBeginning`, as Kafka does.
   *
   * @throws IllegalStateError if the partition is not assigned to this member.
   */
  position(topicPartition: TopicPartition): number {
    const { topic, partition } = this.assertAssigned(topicPartition);
    const key = positionKey(topic, partition);
    const known = this.positions.get(key);
    if (known !== undefined) return known;
    const state = this.broker.partition(topic, partition);
    const resolved =
      this.broker.committedOffset(this.groupId, topic, partition) ??
      (this.fromBeginning.get(topic) === true
        ? 0
        : this.isolationLevel === 'read_committed'
          ? state.lastStableOffset
          : state.highWatermark);
    this.positions.set(key, resolved);
    return resolved;
  }

  /**
   * Moves the position of an assigned partition; the next `poll` reads from there. Unlike
   * Kafka, which only fails at the next fetch, an offset outside the log is refused here.
   *
   * @throws IllegalStateError if the partition is not assigned to this member.
   * @throws OffsetOutOfRangeError if the offset is negative or past the high watermark.
   */
  seek(target: TopicPartitionOffset): void {
    this.assertConnected();
    const { topic, partition } = this.assertAssigned(target);
    const highWatermark = this.broker.partition(topic, partition).highWatermark;
    if (!Number.isInteger(target.offset) || target.offset < 0 || target.offset > highWatermark) {
      throw new OffsetOutOfRangeError(topic, partition, target.offset);
    }
    this.positions.set(positionKey(topic, partition), target.offset);
  }

  /**
   * Stores committed offsets for the group (offset = next record to read, as in Kafka).
   *
   * @throws RebalanceInProgressError if the group rebalanced since this member's last poll
   *   (allowed only from inside `onPartitionsRevoked`, as with Kafka's eager protocol).
   * @throws OffsetOutOfRangeError if an offset is negative or past the high watermark.
   */
  commitOffsets(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return attempt(() => {
      this.assertConnected();
      if (!this.revoking && this.generation !== this.broker.group(this.groupId).generation) {
        throw new RebalanceInProgressError(this.groupId);
      }
      this.broker.commitOffsets(this.groupId, offsets);
    });
  }

  /**
   * Leaves the group: runs `onPartitionsRevoked` for the current assignment (so it can
   * commit), then triggers a rebalance that hands the partitions to the remaining members.
   */
  async disconnect(): Promise<void> {
    if (this.disconnected) return;
    if (this.assigned.length > 0) await this.revoke(this.assigned);
    this.disconnected = true;
    this.assigned = [];
    this.positions.clear();
    if (this.subscribed) this.broker.leaveGroup(this.groupId, this.memberId);
  }

  private async adoptCurrentGeneration(): Promise<void> {
    const group = this.broker.group(this.groupId);
    // Loops because a listener may itself cause another rebalance.
    while (this.generation !== group.generation) {
      if (this.assigned.length > 0) await this.revoke(this.assigned);
      this.generation = group.generation;
      this.assigned = [...(group.assignment.get(this.memberId) ?? [])];
      // Eager protocol: positions are forgotten and re-read from committed offsets, so any
      // progress not committed before the rebalance is delivered again.
      this.positions.clear();
      this.cursor = 0;
      await this.onPartitionsAssigned?.(this.assignment());
    }
  }

  private async revoke(partitions: readonly TopicPartition[]): Promise<void> {
    this.revoking = true;
    try {
      await this.onPartitionsRevoked?.(partitions.map((assigned) => ({ ...assigned })));
    } finally {
      this.revoking = false;
    }
  }

  private assertAssigned(target: TopicPartition): TopicPartition {
    const found = this.assigned.find(
      (assigned) => assigned.topic === target.topic && assigned.partition === target.partition,
    );
    if (found === undefined) {
      throw new IllegalStateError(
        `No current assignment for ${target.topic}/${String(target.partition)} in consumer ${this.memberId}`,
      );
    }
    return found;
  }

  private assertConnected(): void {
    if (this.disconnected) throw new IllegalStateError(`Consumer ${this.memberId} is disconnected`);
  }
}
