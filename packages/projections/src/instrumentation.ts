import type { RecordPosition } from './errors.js';

/**
 * Instrumentation events of the projection runtime (subscribe with
 * `instrumentation.on(name, listener)`; nothing is built when nobody listens).
 */
export interface ProjectionInstrumentationEvents {
  /** One partition batch committed: checkpoint moved to `nextOffset`. */
  'projection.batch.committed': {
    readonly projection: string;
    readonly version: number;
    readonly topic: string;
    readonly partition: number;
    /** Records in the batch. */
    readonly records: number;
    /** Events whose handler ran (or that had no handler but were in order). */
    readonly applied: number;
    /** Records below the stored checkpoint: already applied, skipped. */
    readonly skipped: number;
    readonly parked: number;
    readonly deadLettered: number;
    readonly nextOffset: number;
    readonly durationMs: number;
    /** Transaction attempts (1 when nothing failed). */
    readonly attempts: number;
    /** Wall clock right after the database commit, in ms since the epoch. */
    readonly committedAtMs: number;
    /**
     * Occurred-at (ms since the epoch) of each record the batch took past the checkpoint:
     * applied, parked or dead-lettered, each done with once this transaction committed.
     */
    readonly occurredAtMs: readonly number[];
  };
  /** A batch failed and will be retried. */
  'projection.batch.retry': {
    readonly projection: string;
    readonly topic: string;
    readonly partition: number;
    readonly attempt: number;
    readonly delayMs: number;
    readonly error: unknown;
  };
  /** An event was parked (its aggregate waits until replayed). */
  'projection.event.parked': {
    readonly projection: string;
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly aggregateVersion: number;
    readonly position: RecordPosition;
    readonly reason: string;
  };
  /** An event was sent to the dead-letter topic. */
  'projection.event.dead-lettered': {
    readonly projection: string;
    readonly topic: string;
    readonly position: RecordPosition;
    readonly error: unknown;
  };
  /**
   * A handler returned normally but left its transaction unusable (it caught its own
   * database error, e.g. a unique violation it ignores): its writes for this event were
   * rolled back to the savepoint taken before it, and the event counts as applied.
   */
  'projection.event.rolled-back': {
    readonly projection: string;
    readonly eventId: string;
    readonly eventType: string;
    readonly position: RecordPosition;
  };
  /** An ordering violation under the `warn` policy (under `fail` it stops, under `park` it parks). */
  'projection.ordering.violation': {
    readonly projection: string;
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly expectedVersion: number;
    readonly actualVersion: number;
    readonly position: RecordPosition;
  };
  /** Partitions assigned to this runtime after a rebalance, with the stored offsets it seeks to. */
  'projection.partitions.assigned': {
    readonly projection: string;
    readonly version: number;
    readonly partitions: readonly {
      topic: string;
      partition: number;
      nextOffset: number | undefined;
    }[];
  };
  /** A projection's consumer stopped (gracefully or on an error). */
  'projection.stopped': {
    readonly projection: string;
    readonly version: number;
    readonly error: unknown;
  };
}
