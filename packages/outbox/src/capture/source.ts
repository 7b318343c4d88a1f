import type { OutboxRow } from './router.js';

/** One committed source transaction, whole: BEGIN to COMMIT, outbox rows in WAL order. */
export interface SourceTransaction {
  readonly xid: number;
  /** LSN of the commit record: the identity and ordering key of the transaction. */
  readonly commitLsn: bigint;
  /** End of the commit record: what PostgreSQL may be told is flushed once it is durable downstream. */
  readonly commitEndLsn: bigint;
  /** Commit time in microseconds since the Unix epoch (server clock). */
  readonly commitTimeMicros: bigint;
  readonly rows: readonly OutboxRow[];
}

/** What a change source delivers to; the promise returned by `transaction` is the back-pressure. */
export interface ChangeListener {
  /** A whole source transaction, in commit order. The source sends nothing more until it resolves. */
  transaction(transaction: SourceTransaction): Promise<void>;
  /**
   * Every transaction before `position` has been delivered and none is open: once those are
   * durable, the slot may be confirmed up to `position` (keepalives, heartbeats).
   */
  quietPosition(position: bigint): void;
}

/** A stream of committed outbox transactions from a replication slot. */
export interface ChangeSource {
  /**
   * Takes the slot and starts streaming to `listener`. Resolves once streaming has started;
   * rejects when the slot cannot be taken (e.g. another instance holds it).
   */
  start(listener: ChangeListener): Promise<void>;
  /** Settles when the stream ends: rejects on a failure, resolves after `stop()`. */
  readonly ended: Promise<void>;
  /**
   * Tells PostgreSQL that everything before `position` is durable downstream, so the slot may
   * release that WAL. Call ONLY after the Kafka commit that made it durable. Never moves back.
   */
  confirm(position: bigint): void;
  /** The position last confirmed. */
  readonly confirmed: bigint;
  /** Stops streaming and closes the connection. */
  stop(): Promise<void>;
}
