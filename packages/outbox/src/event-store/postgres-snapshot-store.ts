import type { Snapshot, SnapshotStore, StreamRef } from '@tributary/core';
import { qualifiedTable, resolveOutboxConfig, type OutboxConfig } from '../config.js';
import { toExecutor, type SqlConnection, type SqlExecutor } from '../internal/sql-executor.js';

interface SnapshotRow extends Record<string, unknown> {
  aggregate_version: number;
  state_version: number;
  state: unknown;
  taken_at: Date;
}

/** Snapshots in `tributary.snapshots`: one row per stream, only ever replaced by a newer one. */
export class PostgresSnapshotStore implements SnapshotStore {
  readonly #executor: SqlExecutor;
  readonly #table: string;

  constructor(options: {
    readonly connection: SqlConnection;
    readonly config?: Partial<OutboxConfig>;
  }) {
    this.#executor = toExecutor(options.connection);
    this.#table = qualifiedTable(resolveOutboxConfig(options.config), 'snapshotsTable');
  }

  async load(stream: StreamRef): Promise<Snapshot | undefined> {
    const [row] = await this.#executor.query<SnapshotRow>(
      `select aggregate_version, state_version, state, taken_at from ${this.#table}
       where aggregate_type = $1 and aggregate_id = $2`,
      [stream.aggregateType, stream.aggregateId],
    );
    if (row === undefined) return undefined;
    return {
      stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
      aggregateVersion: row.aggregate_version,
      stateVersion: row.state_version,
      state: row.state,
      takenAt: row.taken_at.toISOString(),
    };
  }

  async save(snapshot: Snapshot): Promise<void> {
    // The `where` keeps a slower writer from replacing a newer snapshot with an older one.
    await this.#executor.query(
      `insert into ${this.#table} as s (aggregate_type, aggregate_id, aggregate_version, state_version, state, taken_at)
       values ($1, $2, $3, $4, $5::jsonb, $6)
       on conflict (aggregate_type, aggregate_id) do update
         set aggregate_version = excluded.aggregate_version, state_version = excluded.state_version,
             state = excluded.state, taken_at = excluded.taken_at
         where s.aggregate_version < excluded.aggregate_version`,
      [
        snapshot.stream.aggregateType,
        snapshot.stream.aggregateId,
        snapshot.aggregateVersion,
        snapshot.stateVersion,
        JSON.stringify(snapshot.state),
        snapshot.takenAt,
      ],
    );
  }
}
