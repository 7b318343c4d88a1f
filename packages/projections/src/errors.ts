import { TributaryError, type TributaryErrorOptions } from '@tributary/core';

/** Error codes of the projection runtime. */
export type ProjectionErrorCode =
  | 'PROJECTION_INVALID'
  | 'PROJECTION_NOT_FOUND'
  | 'PROJECTION_ORDERING_VIOLATION'
  | 'PROJECTION_HANDLER_FAILED'
  | 'PROJECTION_RETIRED'
  | 'PROJECTION_REBUILD_REFUSED'
  | 'PROJECTION_STOPPED'
  | 'PROJECTION_STALLED'
  | 'PROJECTION_CONSISTENCY_TIMEOUT'
  | 'PROJECTION_CONSISTENCY_NOT_APPLICABLE'
  | 'PROJECTION_COMMIT_FAILED'
  | 'PROJECTION_DATABASE_ACCESS_DENIED'
  | 'PROJECTION_DATABASE_TLS_REQUIRED'
  | 'PROJECTION_DATABASE_TLS_FAILED';

/** Base of every error the projection runtime throws; `code` tells them apart. */
export class ProjectionError extends TributaryError {
  constructor(code: ProjectionErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(code, message, options);
  }
}

/** A projection definition is malformed (bad name, version, table, handler…). */
export class InvalidProjectionError extends ProjectionError {
  constructor(projection: string, reason: string) {
    super('PROJECTION_INVALID', `Projection "${projection}" is invalid: ${reason}`, {
      details: { projection },
    });
  }
}

/** Where an event sits in the log: the coordinates used in errors, parking and dead letters. */
export interface RecordPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/**
 * Per aggregate, versions must be contiguous. A gap means an event is missing (lost or not
 * yet visible), a repeat means the same version arrived twice; both break the read model's
 * assumptions, so the ordering policy decides (fail, park or warn).
 */
export class OrderingViolationError extends ProjectionError {
  constructor(
    readonly projection: string,
    readonly aggregate: { readonly aggregateType: string; readonly aggregateId: string },
    readonly expectedVersion: number,
    readonly actualVersion: number,
    readonly position: RecordPosition,
  ) {
    const kind = actualVersion < expectedVersion ? 'repeat' : 'gap';
    super(
      'PROJECTION_ORDERING_VIOLATION',
      `Projection "${projection}": ${kind} in ${aggregate.aggregateType}/${aggregate.aggregateId}: ` +
        `expected version ${expectedVersion}, got ${actualVersion} at ${describePosition(position)}`,
      { details: { projection, aggregate, expectedVersion, actualVersion, position, kind } },
    );
  }
}

/** A handler (or decoding) kept failing for one event after the retries; `cause` is the last error. */
export class HandlerFailedError extends ProjectionError {
  constructor(
    readonly projection: string,
    readonly eventId: string | undefined,
    readonly position: RecordPosition,
    readonly attempts: number,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'PROJECTION_HANDLER_FAILED',
      `Projection "${projection}" failed on ${describePosition(position)}` +
        `${eventId === undefined ? '' : ` (event ${eventId})`} after ${attempts} attempt(s): ${reason}`,
      { cause, details: { projection, eventId, position, attempts } },
    );
  }
}

/** The projection version was retired by a rebuild; this runtime must stop writing to it. */
export class ProjectionRetiredError extends ProjectionError {
  constructor(projection: string, version: number) {
    super(
      'PROJECTION_RETIRED',
      `Projection "${projection}" version ${version} was retired (a newer version replaced it); stopping`,
      { details: { projection, version } },
    );
  }
}

/**
 * The COMMIT of a unit of work failed after everything in it succeeded: a deferred
 * constraint or constraint trigger, a serialization failure, or the connection lost while
 * committing (then it is unknown whether it committed; running the batch again is safe,
 * the checkpoint skips what did commit). The applier then applies the batch one record per
 * transaction, so the failure is pinned on the record that causes it.
 */
export class ProjectionCommitError extends ProjectionError {
  constructor(
    readonly projection: string,
    readonly version: number,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      'PROJECTION_COMMIT_FAILED',
      `Projection "${projection}" version ${version}: COMMIT failed: ${reason}`,
      { cause, retriable: true, details: { projection, version } },
    );
  }
}

/** Formats `topic/partition@offset`. */
export function describePosition(position: RecordPosition): string {
  return `${position.topic}/${position.partition}@${position.offset}`;
}
