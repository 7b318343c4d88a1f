import {
  InvalidPartitionsError,
  InvalidRecordError,
  InvalidTransactionStateError,
  MessageTooLargeError,
  OffsetOutOfRangeError,
  ProducerFencedError,
  TopicAlreadyExistsError,
  UnknownTopicError,
} from '../errors.js';
import { partitionForKey } from '../murmur2.js';
import type {
  CleanupPolicy,
  FetchResult,
  IsolationLevel,
  LogMessage,
  LogRecord,
  ProducerRecord,
  RecordMetadata,
  RecordValue,
  TopicConfig,
  TopicPartition,
  TopicPartitionOffset,
} from '../types.js';
import { rangeAssign } from './range-assignor.js';

/** Lifecycle of a transaction; only `open` ones hold back the last stable offset. */
export type TransactionStatus = 'open' | 'committed' | 'aborted';

/** One producer transaction, shared by every record it wrote so that its outcome flips them all at once. */
export class TransactionState {
  /** Where the transaction stands. */
  status: TransactionStatus = 'open';
  /** First offset this transaction wrote in each partition it touched: what pins each partition's LSO. */
  readonly firstOffsets = new Map<PartitionState, number>();
}

interface DataEntry {
  readonly kind: 'data';
  readonly record: LogRecord;
  readonly transaction: TransactionState | null;
}

/** Kafka's COMMIT/ABORT control batch: occupies an offset, never delivered to applications. */
interface ControlEntry {
  readonly kind: 'control';
  readonly marker: 'commit' | 'abort';
}

type LogEntry = DataEntry | ControlEntry;

/** One partition: an append-only array whose index is the offset (nothing is ever deleted). */
export class PartitionState {
  readonly entries: LogEntry[] = [];
  readonly openTransactions = new Set<TransactionState>();

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Offset the next record gets (single replica, so log end offset = high watermark). */
  get highWatermark(): number {
    return this.entries.length;
  }

  /** Kafka's LSO: first offset of the earliest open transaction, else the high watermark. */
  get lastStableOffset(): number {
    let stable = this.highWatermark;
    for (const transaction of this.openTransactions) {
      const first = transaction.firstOffsets.get(this);
      if (first !== undefined && first < stable) stable = first;
    }
    return stable;
  }
}

interface TopicState {
  readonly name: string;
  readonly cleanupPolicy: CleanupPolicy;
  readonly partitions: readonly PartitionState[];
}

interface TransactionalIdState {
  epoch: number;
  openTransaction: TransactionState | null;
}

/** A group member as the coordinator knows it. */
export interface MemberState {
  readonly memberId: string;
  topics: string[];
}

/** Coordinator state of one consumer group. */
export interface GroupState {
  readonly groupId: string;
  /** Bumped on every membership or subscription change, like Kafka's generation id. */
  generation: number;
  /** Members in join order, which the range assignor follows. */
  readonly members: Map<string, MemberState>;
  assignment: Map<string, TopicPartition[]>;
  /** Committed offsets per topic and partition; survive members leaving, as in `__consumer_offsets`. */
  readonly committed: Map<string, Map<number, number>>;
}

const utf8 = new TextEncoder();

function byteLength(value: RecordValue | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? utf8.encode(value).length : value.length;
}

/**
 * The whole broker state behind `InMemoryKafkaLog` and its clients. Every mutation is
 * synchronous, so an append, a commit marker or a rebalance happens in one step and no
 * reader can observe half of it: that is what makes transactions atomic here.
 */
export class Broker {
  private readonly topics = new Map<string, TopicState>();
  private readonly transactionalIds = new Map<string, TransactionalIdState>();
  private readonly groups = new Map<string, GroupState>();
  private memberSequence = 0;

  constructor(
    readonly maxMessageBytes: number,
    readonly now: () => number,
  ) {}

  createTopic(name: string, config: TopicConfig): void {
    if (this.topics.has(name)) throw new TopicAlreadyExistsError(name);
    if (!Number.isInteger(config.partitions) || config.partitions < 1) {
      throw new InvalidPartitionsError(config.partitions);
    }
    const partitions = Array.from(
      { length: config.partitions },
      (_, index) => new PartitionState(name, index),
    );
    this.topics.set(name, { name, cleanupPolicy: config.cleanupPolicy ?? 'delete', partitions });
  }

  listTopics(): string[] {
    return [...this.topics.keys()].sort();
  }

  topic(name: string): TopicState {
    const topic = this.topics.get(name);
    if (topic === undefined) throw new UnknownTopicError(name);
    return topic;
  }

  partition(topic: string, partition: number): PartitionState {
    const state = this.topic(topic).partitions[partition];
    if (state === undefined) throw new UnknownTopicError(topic, partition);
    return state;
  }

  /**
   * Kafka's InitProducerId for a transactional id: bumps the epoch, which fences every
   * older producer instance, and aborts the transaction the previous instance left open
   * so that it can no longer hold back the LSO or ever become visible.
   */
  initTransactions(transactionalId: string): number {
    const existing = this.transactionalIds.get(transactionalId);
    if (existing === undefined) {
      this.transactionalIds.set(transactionalId, { epoch: 0, openTransaction: null });
      return 0;
    }
    if (existing.openTransaction !== null)
      this.completeTransaction(existing.openTransaction, 'abort');
    existing.openTransaction = null;
    existing.epoch += 1;
    return existing.epoch;
  }

  /** Throws `ProducerFencedError` unless `epoch` is still the current one for the id. */
  assertCurrentEpoch(transactionalId: string, epoch: number): TransactionalIdState {
    const state = this.transactionalIds.get(transactionalId);
    if (state === undefined || state.epoch !== epoch)
      throw new ProducerFencedError(transactionalId);
    return state;
  }

  beginTransaction(transactionalId: string, epoch: number): TransactionState {
    const state = this.assertCurrentEpoch(transactionalId, epoch);
    if (state.openTransaction !== null) {
      throw new InvalidTransactionStateError(
        `Transactional id "${transactionalId}" already has an open transaction`,
      );
    }
    state.openTransaction = new TransactionState();
    return state.openTransaction;
  }

  endTransaction(
    transactionalId: string,
    epoch: number,
    transaction: TransactionState,
    outcome: 'commit' | 'abort',
  ): void {
    const state = this.assertCurrentEpoch(transactionalId, epoch);
    if (state.openTransaction !== transaction || transaction.status !== 'open') {
      throw new InvalidTransactionStateError(
        `Transaction of "${transactionalId}" is no longer open`,
      );
    }
    this.completeTransaction(transaction, outcome);
    state.openTransaction = null;
  }

  /**
   * Writes the COMMIT/ABORT marker into every partition the transaction touched and flips
   * its status in the same synchronous step, so the records of all partitions and topics
   * become visible (or are discarded) together. An empty transaction writes no marker, as
   * in Kafka where only partitions added to the transaction get one.
   */
  private completeTransaction(transaction: TransactionState, outcome: 'commit' | 'abort'): void {
    for (const partition of transaction.firstOffsets.keys()) {
      partition.entries.push({ kind: 'control', marker: outcome });
      partition.openTransactions.delete(transaction);
    }
    transaction.status = outcome === 'commit' ? 'committed' : 'aborted';
  }

  /**
   * Validates every message first and appends only if all are acceptable, so a rejected
   * send leaves no partial write behind.
   *
   * @param chooseUnkeyed - picks the partition of a message without key or explicit partition.
   */
  append(
    record: ProducerRecord,
    transaction: TransactionState | null,
    chooseUnkeyed: (topic: string, partitions: number) => number,
  ): RecordMetadata[] {
    const topic = this.topic(record.topic);
    const placed: { partition: PartitionState; message: LogMessage; key: string | null }[] = [];
    for (const message of record.messages) {
      const key = message.key ?? null;
      this.validateMessage(topic, message, key);
      const partitionNumber =
        message.partition ??
        (key === null
          ? chooseUnkeyed(topic.name, topic.partitions.length)
          : partitionForKey(key, topic.partitions.length));
      placed.push({ partition: this.partition(topic.name, partitionNumber), message, key });
    }
    const timestamp = this.now();
    return placed.map(({ partition, message, key }) => {
      const offset = partition.highWatermark;
      const value = message.value instanceof Uint8Array ? message.value.slice() : message.value;
      const logRecord: LogRecord = Object.freeze({
        topic: topic.name,
        partition: partition.partition,
        offset,
        key,
        value,
        headers: Object.freeze({ ...message.headers }),
        timestamp: message.timestamp ?? timestamp,
      });
      partition.entries.push({ kind: 'data', record: logRecord, transaction });
      if (transaction !== null && !transaction.firstOffsets.has(partition)) {
        transaction.firstOffsets.set(partition, offset);
        partition.openTransactions.add(transaction);
      }
      return { topic: topic.name, partition: partition.partition, offset };
    });
  }

  private validateMessage(topic: TopicState, message: LogMessage, key: string | null): void {
    if (topic.cleanupPolicy === 'compact' && key === null) {
      throw new InvalidRecordError(
        `Compacted topic "${topic.name}" cannot accept a record without a key`,
      );
    }
    // Approximates Kafka's record size: key, value and header bytes, without batch overhead.
    let size = byteLength(key) + byteLength(message.value);
    for (const [name, value] of Object.entries(message.headers ?? {}))
      size += byteLength(name) + byteLength(value);
    if (size > this.maxMessageBytes) throw new MessageTooLargeError(size, this.maxMessageBytes);
  }

  /**
   * Reads visible records from `offset`. `read_committed` stops at the LSO and drops
   * records of aborted transactions; both levels skip control markers, which is why
   * consumers see gaps in offsets.
   */
  fetch(
    topic: string,
    partition: number,
    offset: number,
    isolationLevel: IsolationLevel,
    maxRecords: number,
  ): FetchResult {
    const state = this.partition(topic, partition);
    const highWatermark = state.highWatermark;
    const lastStableOffset = state.lastStableOffset;
    if (!Number.isInteger(offset) || offset < 0 || offset > highWatermark) {
      throw new OffsetOutOfRangeError(topic, partition, offset);
    }
    const limit = isolationLevel === 'read_committed' ? lastStableOffset : highWatermark;
    const records: LogRecord[] = [];
    let nextOffset = offset;
    while (nextOffset < limit && records.length < maxRecords) {
      const entry = state.entries[nextOffset];
      nextOffset += 1;
      if (entry === undefined || entry.kind === 'control') continue;
      if (isolationLevel === 'read_committed' && entry.transaction?.status === 'aborted') continue;
      records.push(entry.record);
    }
    return { records, nextOffset, highWatermark, lastStableOffset };
  }

  /**
   * Every record committed now, up to the high watermark: unlike a `read_committed` fetch,
   * an open transaction does not hide the committed records after it.
   */
  committedRecords(topic: string, partition: number): LogRecord[] {
    const records: LogRecord[] = [];
    for (const entry of this.partition(topic, partition).entries) {
      if (entry.kind === 'control') continue;
      const status = entry.transaction?.status ?? 'committed';
      if (status === 'committed') records.push(entry.record);
    }
    return records;
  }

  allocateMemberId(prefix: string): string {
    this.memberSequence += 1;
    return `${prefix}-${String(this.memberSequence)}`;
  }

  group(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = {
        groupId,
        generation: 0,
        members: new Map(),
        assignment: new Map(),
        committed: new Map(),
      };
      this.groups.set(groupId, group);
    }
    return group;
  }

  /** Adds topics to a member's subscription (joining the group if new) and rebalances. */
  subscribe(groupId: string, memberId: string, topics: readonly string[]): void {
    for (const topic of topics) this.topic(topic);
    const group = this.group(groupId);
    const member = group.members.get(memberId);
    if (member === undefined) {
      group.members.set(memberId, { memberId, topics: [...new Set(topics)] });
    } else {
      member.topics = [...new Set([...member.topics, ...topics])];
    }
    this.rebalance(group);
  }

  leaveGroup(groupId: string, memberId: string): void {
    const group = this.group(groupId);
    if (group.members.delete(memberId)) this.rebalance(group);
  }

  /**
   * A new generation with a fresh range assignment. Members pick it up on their next poll;
   * until then their commits are refused, which is how Kafka fences a member that has
   * not rejoined (REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION).
   */
  private rebalance(group: GroupState): void {
    group.generation += 1;
    group.assignment = rangeAssign(
      [...group.members.values()],
      (topic) => this.topic(topic).partitions.length,
    );
  }

  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): void {
    // Kafka would store any offset; refusing ones outside the log catches off-by-one and
    // wrong-partition bugs at the commit instead of at some later resume.
    for (const { topic, partition, offset } of offsets) {
      const state = this.partition(topic, partition);
      if (!Number.isInteger(offset) || offset < 0 || offset > state.highWatermark) {
        throw new OffsetOutOfRangeError(topic, partition, offset);
      }
    }
    const group = this.group(groupId);
    for (const { topic, partition, offset } of offsets) {
      let byPartition = group.committed.get(topic);
      if (byPartition === undefined) {
        byPartition = new Map();
        group.committed.set(topic, byPartition);
      }
      byPartition.set(partition, offset);
    }
  }

  committedOffset(groupId: string, topic: string, partition: number): number | null {
    return this.groups.get(groupId)?.committed.get(topic)?.get(partition) ?? null;
  }
}
