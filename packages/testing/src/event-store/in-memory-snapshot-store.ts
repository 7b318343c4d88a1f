import type { Snapshot, SnapshotStore, StreamRef } from '@tributary/core';

/** A {@link SnapshotStore} in memory; keeps only the newest snapshot per stream, like the Postgres one. */
export class InMemorySnapshotStore implements SnapshotStore {
  readonly #snapshots = new Map<string, Snapshot>();

  load(stream: StreamRef): Promise<Snapshot | undefined> {
    const stored = this.#snapshots.get(key(stream));
    return Promise.resolve(stored === undefined ? undefined : structuredClone(stored));
  }

  save(snapshot: Snapshot): Promise<void> {
    const current = this.#snapshots.get(key(snapshot.stream));
    // A slower writer must not replace a newer snapshot with an older one.
    if (current === undefined || current.aggregateVersion < snapshot.aggregateVersion) {
      this.#snapshots.set(key(snapshot.stream), structuredClone(snapshot));
    }
    return Promise.resolve();
  }
}

function key(stream: StreamRef): string {
  return `${stream.aggregateType}\u0000${stream.aggregateId}`;
}
