import type { StreamRef } from './errors.js';

/**
 * A saved aggregate state at a version. Snapshots are a cache: losing one costs a longer
 * replay, never correctness, so they are written after the append, outside its transaction.
 */
export interface Snapshot<S = unknown> {
  readonly stream: StreamRef;
  /** The stream version the state reflects. */
  readonly aggregateVersion: number;
  /**
   * Version of the state's shape (the aggregate's `snapshot.version`). A snapshot of another
   * version is ignored, so changing the state type only needs a version bump.
   */
  readonly stateVersion: number;
  readonly state: S;
  readonly takenAt: string;
}

/** Where snapshots live. Postgres: `tributary.snapshots`; tests: in memory. */
export interface SnapshotStore {
  /** The newest snapshot of the stream, if any. */
  load(stream: StreamRef): Promise<Snapshot | undefined>;
  /** Saves a snapshot unless a newer one is already stored. */
  save(snapshot: Snapshot): Promise<void>;
}

/** Per-aggregate snapshot settings. */
export interface SnapshotPolicy {
  /** Take a snapshot each time the version crosses a multiple of `every`. */
  readonly every: number;
  /** Version of the state's shape. Bump it when the state type changes. Default 1. */
  readonly version?: number;
}

/** True when an append from `fromVersion` to `toVersion` crosses a multiple of `every`. */
export function crossesSnapshotBoundary(
  fromVersion: number,
  toVersion: number,
  every: number,
): boolean {
  return Math.floor(toVersion / every) > Math.floor(fromVersion / every);
}
