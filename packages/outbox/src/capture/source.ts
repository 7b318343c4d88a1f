/**
 * The change-source port of the capture relay. A source delivers committed outbox
 * transactions, whole and in commit order, and is told when their position is durable
 * downstream. The relay never names the technology behind it: the PostgreSQL
 * implementation (pgoutput, slot, publication, heartbeats) lives in `capture/postgres/`.
 */
import type { OutboxRow } from './router.js';

/**
 * Rows of a committed source transaction delivered before its end, so a transaction of any
 * size streams through without being held whole (PostgreSQL decodes a transaction only
 * once it committed, so its commit LSN is known from BEGIN on).
 */
export interface SourceTransactionPart {
  readonly xid: number;
  /** LSN of the commit record: the identity and ordering key of the transaction. */
  readonly commitLsn: bigint;
  /** Commit time in microseconds since the Unix epoch (server clock). */
  readonly commitTimeMicros: bigint;
  /** Position of `rows[0]` among the transaction's outbox rows (0-based). */
  readonly firstSequence: number;
  readonly rows: readonly OutboxRow[];
}

/**
 * The end of a committed source transaction: its last rows (all of them when no part came
 * before), outbox rows in WAL order.
 */
export interface SourceTransaction {
  readonly xid: number;
  /** LSN of the commit record: the identity and ordering key of the transaction. */
  readonly commitLsn: bigint;
  /** End of the commit record: what PostgreSQL may be told is flushed once it is durable downstream. */
  readonly commitEndLsn: bigint;
  /** Commit time in microseconds since the Unix epoch (server clock). */
  readonly commitTimeMicros: bigint;
  /**
   * Position of `rows[0]` among the transaction's outbox rows: the number of rows delivered
   * before in {@link ChangeListener.part}s. Default 0 (the transaction is whole).
   */
  readonly firstSequence?: number;
  readonly rows: readonly OutboxRow[];
}

/** What a change source delivers to; the promise returned by `transaction` is the back-pressure. */
export interface ChangeListener {
  /**
   * Rows of a large source transaction before its end, in order; its last rows follow in
   * {@link ChangeListener.transaction}. The source sends nothing more until it resolves.
   */
  part(part: SourceTransactionPart): Promise<void>;
  /**
   * The end of a source transaction (the whole of it when no part came before), in commit
   * order. The source sends nothing more until it resolves.
   */
  transaction(transaction: SourceTransaction): Promise<void>;
  /**
   * Every transaction before `position` has been delivered and none is open: once those are
   * durable, the slot may be confirmed up to `position` (keepalives, heartbeats).
   */
  quietPosition(position: bigint): void;
}

/** A running stream of committed outbox transactions, held by this instance alone. */
export interface ChangeStream {
  /** Settles when the stream ends: rejects on a failure, resolves after `stop()`. */
  readonly ended: Promise<void>;
  /**
   * Tells the source that everything before `position` is durable downstream, so it may
   * release it (PostgreSQL: the slot's WAL). Call ONLY after the sink commit that made it
   * durable. Never moves back.
   */
  confirm(position: bigint): void;
  /** The position last confirmed. */
  readonly confirmed: bigint;
  /** Stops streaming and closes the connection. */
  stop(): Promise<void>;
}

/** What a source may ask of the sink while it prepares. */
export interface SourcePreparation {
  /**
   * The sink's last committed checkpoint (commit LSN), `undefined` if none: proof that the
   * source position existed before, so a missing one is lost rather than new. The relay
   * checks the checkpoint's identity before answering.
   */
  readCheckpoint(): Promise<bigint | undefined>;
}

/**
 * Which source a checkpoint belongs to. A checkpoint applied to another source would skip
 * or republish events, so the relay halts on any difference.
 */
export interface SourceIdentity {
  /** The server cluster (PostgreSQL: the system identifier of `IDENTIFY_SYSTEM`). */
  readonly system: string;
  /** The database. */
  readonly database: string;
  /** What holds the position (PostgreSQL: the replication slot). */
  readonly slot: string;
}

/** The source's identity and how far its log reaches now. */
export interface SourceIdentification {
  readonly identity: SourceIdentity;
  /**
   * The current end of the source's log (PostgreSQL: the WAL flush position). A checkpoint
   * beyond it belongs to a future this database never had: it was restored from a backup.
   */
  readonly head: bigint;
}

/** The outcome of one attempt to take the source. */
export type SourceAcquisition =
  /** This instance holds the source and streams into the listener. */
  | { readonly acquired: true; readonly stream: ChangeStream }
  /**
   * Another instance holds it: wait as a standby and try again. `activePid` is the holder's
   * process id when the source can tell.
   */
  | { readonly acquired: false; readonly activePid: number | null };

/** How far the source's head is ahead of what it was told is durable; `null` where unknown. */
export interface SourceLag {
  /** Bytes between the head and the confirmed position (PostgreSQL: WAL lag). */
  readonly lagBytes: number | null;
  /** Bytes the source retains for this capturer (PostgreSQL: WAL pinned by the slot). */
  readonly retainedBytes: number | null;
}

/**
 * A change source for ONE pipeline run; the capturer opens a fresh one for every run, so a
 * failed connection never carries over into the next run.
 */
export interface ChangeSource {
  /** Name of what holds this capturer's position (PostgreSQL: the replication slot), for logs and events. */
  readonly slot: string;
  /**
   * Guardrails before streaming: checks the server and creates what is missing when allowed.
   * A missing position with an existing checkpoint is a lost position: it halts and is never
   * recreated silently.
   */
  prepare(preparation: SourcePreparation): Promise<void>;
  /** Identifies the source (after `prepare`), so the relay can check the checkpoint against it. */
  identify(): Promise<SourceIdentification>;
  /**
   * Tries to take the source and start streaming to `listener`. Resolves once streaming has
   * started, or with `acquired: false` while another instance holds it.
   *
   * @throws CaptureError when the position is gone or unusable (not retriable).
   */
  acquire(listener: ChangeListener): Promise<SourceAcquisition>;
  /**
   * Writes a marker into the change stream, so the confirmed position can advance while the
   * outbox is idle and other writes fill the log.
   */
  heartbeat(): Promise<void>;
  /** The current lag, for progress reports; `undefined` when the position is not found. */
  lag(): Promise<SourceLag | undefined>;
  /** Waits (briefly) until the source reports `position` as confirmed, so a stop really acknowledged. */
  awaitConfirmed(position: bigint): Promise<void>;
  /** Rejects when the source fails outside its stream (e.g. a control connection drops); never resolves. */
  readonly failed: Promise<never>;
  /** Releases connections. */
  close(): Promise<void>;
}
