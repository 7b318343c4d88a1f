import type { EnvelopeWithoutPayload } from '@tributary/core';
import type { RecordPosition } from '../errors.js';
import type { AnyProjection } from '../projection.js';
import type { SourceRecord } from '../source-record.js';

/** Lifecycle of one projection version. */
export type ProjectionVersionStatus = 'building' | 'active' | 'retired';

/** One row of the projection registry. */
export interface ProjectionVersionRow {
  readonly projection: string;
  readonly version: number;
  readonly status: ProjectionVersionStatus;
  readonly tables: readonly string[];
}

/** A stored checkpoint: the next offset to apply of one partition. */
export interface StoredCheckpoint {
  readonly projection: string;
  readonly version: number;
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: number;
  readonly updatedAt: Date;
}

/** Why an event was parked. */
export type ParkReason =
  /** Its handler still failed after the retries (poison policy `park`). */
  | 'handler-failed'
  /** Its version was not the next one of its aggregate (ordering policy `park`). */
  | 'ordering'
  /** An earlier event of its aggregate is parked: it waits behind it, order kept. */
  | 'aggregate-parked';

/** A parked event, as listed by `tributary parked list`. */
export interface ParkedEventRow {
  readonly id: number;
  readonly projection: string;
  readonly version: number;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly aggregateVersion: number;
  readonly eventId: string;
  readonly eventType: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** A {@link ParkReason}, as stored. */
  readonly reason: string;
  readonly error: string | null;
  readonly parkedAt: Date;
}

/** The result of {@link ProjectionStore.prepare}. */
export interface PrepareResult {
  readonly status: ProjectionVersionStatus;
  /** Migrations applied by this call. */
  readonly applied: readonly string[];
}

/** A projection version as the store knows it: identity plus the logical tables it writes. */
export interface StoredProjection {
  readonly name: string;
  readonly version: number;
  readonly tables: readonly string[];
}

/** One partition of one topic. */
export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** One aggregate instance. */
export interface AggregateRef {
  readonly aggregateType: string;
  readonly aggregateId: string;
}

/** Where an aggregate stands for one projection version: last applied version, parked or not. */
export interface AggregateVersion extends AggregateRef {
  readonly lastVersion: number;
  readonly parked: boolean;
}

/** An event to park: the record as consumed (so it can be replayed) and why. */
export interface ParkedEvent {
  readonly record: SourceRecord;
  readonly envelope: EnvelopeWithoutPayload;
  readonly reason: ParkReason;
  readonly error: string | null;
}

/**
 * One unit of work of one projection version: everything done through it, and everything
 * the handlers do through {@link context}, commits together or not at all. That is what
 * makes a batch exactly-once: the checkpoint moves in the same commit as the read model.
 */
export interface ProjectionStoreTransaction<Context> {
  /** What handlers receive: the store's handle on this unit of work (e.g. the SQL transaction). */
  readonly context: Context;
  /**
   * Locks the checkpoint of a partition until the end of the unit of work and returns its
   * next offset (0 for a partition never applied). The lock is what serializes a zombie
   * that lost the partition with its new owner: the second waits, then sees the moved
   * offset and skips what the first applied.
   *
   * @throws ProjectionRetiredError when the version is not registered or was retired.
   */
  lockCheckpoint(partition: PartitionRef): Promise<number>;
  /**
   * Locks the aggregates' rows until the end of the unit of work (in one fixed order, so a
   * batch and a parked replay cannot deadlock) and returns those that have one; an absent
   * aggregate has applied nothing yet.
   */
  lockAggregates(aggregates: readonly AggregateRef[]): Promise<AggregateVersion[]>;
  /** Parks events; an event parked before (same position) is left as it is. */
  park(events: readonly ParkedEvent[]): Promise<void>;
  /**
   * Saves the aggregates the batch changed and moves the partition's checkpoint to
   * `nextOffset`, in one step. Both were locked by this unit of work.
   */
  advance(
    partition: PartitionRef,
    nextOffset: number,
    aggregates: readonly AggregateVersion[],
  ): Promise<void>;
  /** Locks and returns the parked events of one aggregate, in log order. */
  lockParked(aggregate: AggregateRef): Promise<SourceRecord[]>;
  /** Saves the aggregate (unparked, at `lastVersion`) and deletes its parked events. */
  unpark(aggregate: AggregateRef, lastVersion: number): Promise<void>;
  /**
   * Runs one handler call in a nested scope of the unit of work (a savepoint), released
   * after it. When `work` throws, the error goes through (the caller abandons the unit of
   * work). When `work` resolves but left the unit of work unusable — a handler that caught
   * its own database error, after which PostgreSQL refuses every statement — the scope is
   * rolled back (everything `work` wrote is undone, as PostgreSQL does for a transaction
   * that fails) and `'rolled-back'` is returned, so the next handler runs normally.
   */
  isolate(work: () => Promise<void>): Promise<IsolatedOutcome>;
}

/** How an {@link ProjectionStoreTransaction.isolate | isolated} handler call ended. */
export type IsolatedOutcome = 'kept' | 'rolled-back';

/**
 * Where the projection runtime keeps its state next to the read models: checkpoints,
 * aggregate versions, parked events, and the life cycle of projection versions (migrate,
 * register, swap in, retire). The applier and the runtime work only through this port;
 * `Context` is what the store hands to projection handlers.
 *
 * Every implementation passes the store contract suite of `@tributary/testing/vitest`.
 */
export interface ProjectionStore<Context = unknown> {
  /** Creates the store's own tables if missing. Idempotent, safe to run concurrently. */
  ensureSchema(): Promise<void>;
  /**
   * Applies the version's pending migrations and registers it: the first version of a
   * projection becomes active at once, a later one starts as `building`.
   *
   * @throws ProjectionRetiredError when this version was already replaced by a newer one.
   */
  prepare(projection: AnyProjection): Promise<PrepareResult>;
  /**
   * Swaps a caught-up version in atomically and retires the previously active one.
   *
   * @returns the version that was retired, if any.
   */
  activate(projection: AnyProjection): Promise<number | undefined>;
  /** Every registered version of every projection (or of one). */
  versions(projectionName?: string): Promise<ProjectionVersionRow[]>;
  /** Stored checkpoints of a projection version (or of all versions). */
  checkpoints(projectionName?: string, version?: number): Promise<StoredCheckpoint[]>;
  /**
   * Where the given aggregates stand for one projection version (a plain read, no locks):
   * what read-your-writes waits on. Aggregates the version never saw are left out.
   */
  aggregateVersions(
    projection: { readonly name: string; readonly version: number },
    aggregates: readonly AggregateRef[],
  ): Promise<AggregateVersion[]>;
  /**
   * Whether a dead letter was published for this record of this projection version. Kept
   * outside any batch unit of work, so a batch that runs again (after a failed COMMIT, a
   * crash, a redelivery) does not publish it a second time.
   */
  wasDeadLettered(projection: StoredProjection, position: RecordPosition): Promise<boolean>;
  /** Records, in its own unit of work, that a dead letter was published for this record. */
  recordDeadLettered(
    projection: StoredProjection,
    position: RecordPosition,
    eventId: string | undefined,
  ): Promise<void>;
  /** Parked events, oldest first per aggregate. */
  parkedEvents(filter?: {
    readonly projection?: string;
    readonly version?: number;
  }): Promise<ParkedEventRow[]>;
  /**
   * Runs `work` in ONE unit of work of a projection version: it commits when `work`
   * resolves and leaves nothing behind when `work` throws (the error is rethrown).
   *
   * @throws ProjectionCommitError when `work` resolved but the commit failed.
   */
  transaction<T>(
    projection: StoredProjection,
    work: (transaction: ProjectionStoreTransaction<Context>) => Promise<T>,
  ): Promise<T>;
}
