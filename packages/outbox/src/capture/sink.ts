/**
 * The sink port of the capture relay: a transactional destination that commits events and
 * the checkpoint together. The Kafka implementation lives in `capture/kafka/`.
 */
import type { CaptureRecord } from './router.js';

/** One source transaction's summary, for the optional transaction metadata topic. */
export interface TransactionSummary {
  readonly xid: number;
  readonly commitLsn: bigint;
  readonly commitTimeMicros: bigint;
  readonly eventCount: number;
}

/** What goes into ONE Kafka transaction: whole source transactions plus the checkpoint. */
export interface PublishBatch {
  /** Records of one or more whole source transactions, in commit order. */
  readonly records: readonly CaptureRecord[];
  readonly transactions: readonly TransactionSummary[];
  /** Commit LSN of the batch's last source transaction: the checkpoint written with it. */
  readonly checkpoint: bigint;
}

/**
 * The transactional destination of captured events (Kafka; an in-memory log in tests), for
 * ONE pipeline run: the capturer creates a fresh sink for every run, so an indeterminate
 * producer never carries on.
 */
export interface CaptureSink {
  /** Where checkpoints are kept (Kafka: the checkpoint topic), for logs. */
  readonly checkpointLocation: string;
  /** Makes sure the sink can take checkpoints (Kafka: connects the admin client, creates topics). */
  prepare(): Promise<void>;
  /**
   * Initialises the transactional producer. With a stable transactional id this fences any
   * older instance: its open transaction is aborted and it can commit nothing any more.
   */
  connect(): Promise<void>;
  /** The last committed checkpoint (commit LSN), read with read_committed; `undefined` if none. */
  readCheckpoint(): Promise<bigint | undefined>;
  /** Writes the batch and its checkpoint in one transaction and commits it; resolves once committed. */
  publish(batch: PublishBatch): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
