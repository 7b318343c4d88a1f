/**
 * The sink port of the capture relay: a transactional destination that commits events and
 * the checkpoint together. The Kafka implementation lives in `capture/kafka/`.
 */
import type { CaptureRecord } from './router.js';
import type { SourceIdentity } from './source.js';

/** A committed checkpoint as read back. */
export interface CaptureCheckpoint {
  /** Commit LSN of the last source transaction committed with it. */
  readonly commitLsn: bigint;
  /**
   * Set when the checkpoint lies inside that source transaction (it was split over several
   * Kafka transactions): the sequence of its last event in Kafka. `undefined`: all of it is.
   */
  readonly sequence?: number | undefined;
  /**
   * The source it was written for. Fields are missing in checkpoints of older versions
   * (which recorded the slot only): those are adopted and written on the next commit.
   */
  readonly identity: { readonly [Field in keyof SourceIdentity]?: string | undefined };
  /** Partition count of every event topic at first use, by topic. */
  readonly partitions: ReadonlyMap<string, number>;
  /** The highest source position recorded as confirmable; `undefined` in older checkpoints. */
  readonly confirmedLsn: bigint | undefined;
}

/** One source transaction's summary, for the optional transaction metadata topic. */
export interface TransactionSummary {
  readonly xid: number;
  readonly commitLsn: bigint;
  readonly commitTimeMicros: bigint;
  readonly eventCount: number;
}

/**
 * What goes into ONE Kafka transaction: source transactions (whole, or a chunk of a large
 * one at either end) plus the checkpoint.
 */
export interface PublishBatch {
  /** Records of the batch's source transactions, in commit order. */
  readonly records: readonly CaptureRecord[];
  /** Summaries of the source transactions that END in this batch. */
  readonly transactions: readonly TransactionSummary[];
  /** Commit LSN of the batch's last source transaction: the checkpoint written with it. */
  readonly checkpoint: bigint;
  /**
   * When the batch ends inside that source transaction (a chunk of a large one): the
   * sequence of its last event in the batch, written with the checkpoint. `undefined` when
   * the source transaction ends in the batch.
   */
  readonly checkpointSequence?: number | undefined;
  /**
   * The highest source position the capturer will confirm after this commit, recorded with
   * the checkpoint: a source found beyond every recorded position was moved by someone else.
   */
  readonly confirmedLsn: bigint;
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
   * Every checkpoint written afterwards records `identity`.
   */
  connect(identity?: SourceIdentity): Promise<void>;
  /**
   * The last committed checkpoint, `undefined` if none. It must be the latest committed
   * one even while another writer's transaction is open on the same store.
   */
  readCheckpoint(): Promise<CaptureCheckpoint | undefined>;
  /** Writes the batch and its checkpoint in one transaction and commits it; resolves once committed. */
  publish(batch: PublishBatch): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}
