/**
 * Instrumentation events of the capturer (`capturer.instrumentation.on(name, listener)`).
 * Payloads are built only when someone listens.
 */
export interface CaptureEvents {
  /** This instance holds the slot and streams. */
  'capture.slot.acquired': { readonly slot: string; readonly confirmedLsn: string };
  /** Another instance holds the slot; this one waits. */
  'capture.standby': { readonly slot: string; readonly activePid: number | null };
  /** The checkpoint read from Kafka after fencing older instances (`null`: none yet). */
  'capture.checkpoint.loaded': { readonly commitLsn: string | null };
  /** A source transaction at or below the checkpoint was dropped (already in Kafka). */
  'capture.transaction.skipped': { readonly commitLsn: string; readonly rows: number };
  /** A Kafka transaction committed and its LSN was confirmed to PostgreSQL. */
  'capture.batch.committed': {
    readonly events: number;
    readonly transactions: number;
    readonly bytes: number;
    readonly checkpoint: string;
    readonly durationMs: number;
    /** Wall clock right after the Kafka commit, in ms since the epoch. */
    readonly committedAtMs: number;
    /** Commit time of each source transaction, µs since the epoch (for latency figures). */
    readonly commitTimesMicros: readonly bigint[];
    /** Events of each source transaction, in the same order. */
    readonly eventsPerTransaction: readonly number[];
    /** Events per destination topic. */
    readonly eventsPerTopic: ReadonlyMap<string, number>;
  };
  /** A source transaction joined the batch to publish (it is in Kafka once a batch commits it). */
  'capture.transaction.accepted': {
    readonly commitLsn: string;
    /** Commit time at the source, µs since the epoch. */
    readonly commitTimeMicros: bigint;
    readonly events: number;
  };
  /** The periodic progress query (every `progressIntervalMs`) of the active instance. */
  'capture.progress': {
    /** Bytes the source retains for this capturer (PostgreSQL: WAL pinned by the slot). */
    readonly retainedWalBytes: number | null;
    /** Bytes between the source's head and the confirmed position. */
    readonly walLagBytes: number | null;
  };
  /** A row could not be routed; `policy` says what happened to it. */
  'capture.unroutable': {
    readonly eventId: string | null;
    readonly reason: string;
    readonly commitLsn: string;
    readonly policy: 'warn' | 'error' | 'fatal';
  };
  /** The pipeline failed and restarts from the checkpoint after `delayMs`. */
  'capture.pipeline.restarting': {
    readonly error: string;
    readonly code: string | null;
    readonly delayMs: number;
  };
  /** The capturer stopped (gracefully, or halted by a fatal error). */
  'capture.stopped': { readonly reason: 'stopped' | 'halted'; readonly error: string | null };
}
