import type { Knex } from 'knex';
import { ProjectionRetiredError } from '../../errors.js';
import { typedRow, typedRows } from '../../internal/sql.js';
import type { ProjectionContext } from '../../projection.js';
import { headersAsStrings, valueBytes, type SourceRecord } from '../../source-record.js';
import type {
  AggregateRef,
  AggregateVersion,
  IsolatedOutcome,
  ParkedEvent,
  PartitionRef,
  ProjectionStoreTransaction,
  StoredProjection,
} from '../projection-store.js';
import type { RuntimeTableRefs, RuntimeTables } from './tables.js';

/** Per-transaction PostgreSQL settings, as `set_config` values (`30000ms`). */
export interface TransactionSettings {
  readonly lockTimeout: string;
  readonly idleInTransactionTimeout: string;
}

const toBuffer = (bytes: Uint8Array | null): Buffer | null =>
  bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

const byAggregate = (a: AggregateRef, b: AggregateRef): number =>
  a.aggregateType === b.aggregateType
    ? a.aggregateId < b.aggregateId
      ? -1
      : a.aggregateId > b.aggregateId
        ? 1
        : 0
    : a.aggregateType < b.aggregateType
      ? -1
      : 1;

/**
 * One batch (or parked replay) of one projection version in ONE PostgreSQL transaction.
 * Handlers get the same knex transaction in their context, so their writes commit with
 * the checkpoint or not at all.
 */
export class PostgresProjectionTransaction implements ProjectionStoreTransaction<ProjectionContext> {
  readonly context: ProjectionContext;
  readonly #trx: Knex.Transaction;
  readonly #projection: StoredProjection;
  readonly #owner: { readonly projection: string; readonly version: number };
  readonly #tables: RuntimeTables;
  readonly #refs: RuntimeTableRefs;
  #settings: TransactionSettings | undefined;

  constructor(options: {
    readonly trx: Knex.Transaction;
    readonly projection: StoredProjection;
    /** The handler context without the transaction, computed once per projection version. */
    readonly context: Omit<ProjectionContext, 'trx'>;
    readonly tables: RuntimeTables;
    readonly refs: RuntimeTableRefs;
    /**
     * `lock_timeout` and `idle_in_transaction_session_timeout` of this transaction (e.g.
     * `30000ms`), set before its first statement takes a lock.
     */
    readonly settings: TransactionSettings;
  }) {
    this.#settings = options.settings;
    this.#trx = options.trx;
    this.#projection = options.projection;
    this.#owner = { projection: options.projection.name, version: options.projection.version };
    this.#tables = options.tables;
    this.#refs = options.refs;
    this.context = { ...options.context, trx: options.trx };
  }

  /**
   * The row is created on first use; a version retired by a rebuild has had its rows
   * deleted, which the registry lookup detects. The transaction's settings ride on the
   * same statement (a batch's first), in a sub-select evaluated before the row is locked.
   */
  async lockCheckpoint(partition: PartitionRef): Promise<number> {
    const trx = this.#trx;
    const key = { ...this.#owner, topic: partition.topic, partition: partition.partition };
    const settings = this.#settings;
    if (settings !== undefined) {
      this.#settings = undefined;
      const { rows } = await trx.raw<{ rows: { next_offset: string | number | null }[] }>(
        `select (select next_offset from ${this.#tables.checkpoints}
                  where projection = ? and version = ? and topic = ? and partition = ?
                  for update) as next_offset, s.l, s.i
           from (select set_config('lock_timeout', ?, true) as l,
                        set_config('idle_in_transaction_session_timeout', ?, true) as i
                 offset 0) as s`,
        [
          key.projection,
          key.version,
          key.topic,
          key.partition,
          settings.lockTimeout,
          settings.idleInTransactionTimeout,
        ],
      );
      const found = rows[0]?.next_offset;
      if (found !== null && found !== undefined) return Number(found);
    }
    const select = async (): Promise<number | undefined> => {
      const row = await typedRow<{ next_offset: string | number }>(
        trx(this.#refs.checkpoints).where(key).forUpdate().first('next_offset'),
      );
      return row === undefined ? undefined : Number(row.next_offset);
    };
    const found = settings === undefined ? await select() : undefined;
    if (found !== undefined) return found;
    const registry = await typedRow<{ status: string }>(
      trx(this.#refs.registry).where(this.#owner).first('status'),
    );
    if (registry === undefined || registry.status === 'retired') {
      throw new ProjectionRetiredError(this.#projection.name, this.#projection.version);
    }
    await trx(this.#refs.checkpoints)
      .insert({ ...key, next_offset: 0 })
      .onConflict(['projection', 'version', 'topic', 'partition'])
      .ignore();
    return (await select()) ?? 0;
  }

  /** Sets the transaction's settings unless a statement already did. */
  async #applySettings(): Promise<void> {
    const settings = this.#settings;
    if (settings === undefined) return;
    this.#settings = undefined;
    await this.#trx.raw(
      `select set_config('lock_timeout', ?, true),
              set_config('idle_in_transaction_session_timeout', ?, true)`,
      [settings.lockTimeout, settings.idleInTransactionTimeout],
    );
  }

  async lockAggregates(aggregates: readonly AggregateRef[]): Promise<AggregateVersion[]> {
    await this.#applySettings();
    // Sorted so that concurrent lockers (a parked-event replay) take row locks in one order.
    const pairs = [...aggregates]
      .sort(byAggregate)
      .map((aggregate): [string, string] => [aggregate.aggregateType, aggregate.aggregateId]);
    const rows = await typedRows<{
      aggregate_type: string;
      aggregate_id: string;
      last_version: number;
      parked: boolean;
    }>(
      this.#trx(this.#refs.aggregates)
        .where(this.#owner)
        .whereIn(['aggregate_type', 'aggregate_id'], pairs)
        .orderBy(['aggregate_type', 'aggregate_id'])
        .forUpdate()
        .select('aggregate_type', 'aggregate_id', 'last_version', 'parked'),
    );
    return rows.map((row) => ({
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      lastVersion: Number(row.last_version),
      parked: row.parked,
    }));
  }

  async park(events: readonly ParkedEvent[]): Promise<void> {
    await this.#applySettings();
    if (events.length === 0) return;
    await this.#trx(this.#refs.parked)
      .insert(
        events.map(({ record, envelope, reason, error }) => ({
          ...this.#owner,
          aggregate_type: envelope.aggregateType,
          aggregate_id: envelope.aggregateId,
          aggregate_version: envelope.aggregateVersion,
          event_id: envelope.eventId,
          event_type: envelope.eventType,
          topic: record.topic,
          partition: record.partition,
          record_offset: record.offset,
          reason,
          error,
          record_key: record.key,
          record_value: toBuffer(valueBytes(record.value)),
          record_headers: JSON.stringify(headersAsStrings(record.headers)),
        })),
      )
      // A zombie re-running a batch already parked by the partition's new owner cannot get
      // here (the checkpoint skips it), but a replayed batch after a crash must not fail.
      .onConflict(['projection', 'version', 'topic', 'partition', 'record_offset'])
      .ignore();
  }

  /**
   * ONE statement (one round trip): a data-modifying CTE always runs to completion, whether
   * or not the outer UPDATE reads its output.
   */
  async advance(
    partition: PartitionRef,
    nextOffset: number,
    aggregates: readonly AggregateVersion[],
  ): Promise<void> {
    await this.#applySettings();
    const rows = aggregates.map((a) => ({
      t: a.aggregateType,
      i: a.aggregateId,
      v: a.lastVersion,
      p: a.parked,
    }));
    const { aggregates: aggregatesTable, checkpoints } = this.#tables;
    const { projection, version } = this.#owner;
    await this.#trx.raw(
      `with saved as (
         insert into ${aggregatesTable} as a
           (projection, version, aggregate_type, aggregate_id, last_version, parked)
         select ?, ?, r.t, r.i, r.v, r.p
           from jsonb_to_recordset(?::jsonb) as r(t text, i text, v integer, p boolean)
         on conflict (projection, version, aggregate_type, aggregate_id)
         do update set last_version = excluded.last_version, parked = excluded.parked
         returning 1)
       update ${checkpoints} set next_offset = ?, updated_at = now()
        where projection = ? and version = ? and topic = ? and partition = ?`,
      [
        projection,
        version,
        JSON.stringify(rows),
        nextOffset,
        projection,
        version,
        partition.topic,
        partition.partition,
      ],
    );
  }

  async lockParked(aggregate: AggregateRef): Promise<SourceRecord[]> {
    await this.#applySettings();
    const rows = await typedRows<{
      topic: string;
      partition: number;
      record_offset: string | number;
      record_key: string | null;
      record_value: Uint8Array | null;
      record_headers: Record<string, string> | string;
    }>(
      this.#trx(this.#refs.parked)
        .where(this.#whereAggregate(aggregate))
        .orderBy('record_offset')
        .forUpdate()
        .select(
          'topic',
          'partition',
          'record_offset',
          'record_key',
          'record_value',
          'record_headers',
        ),
    );
    return rows.map((row) => ({
      topic: row.topic,
      partition: Number(row.partition),
      offset: Number(row.record_offset),
      key: row.record_key,
      value: row.record_value,
      headers:
        typeof row.record_headers === 'string'
          ? (JSON.parse(row.record_headers) as Record<string, string>)
          : row.record_headers,
    }));
  }

  async unpark(aggregate: AggregateRef, lastVersion: number): Promise<void> {
    await this.#applySettings();
    await this.#trx(this.#refs.aggregates)
      .insert({ ...this.#whereAggregate(aggregate), last_version: lastVersion, parked: false })
      .onConflict(['projection', 'version', 'aggregate_type', 'aggregate_id'])
      .merge(['last_version', 'parked']);
    await this.#trx(this.#refs.parked).where(this.#whereAggregate(aggregate)).delete();
  }

  /**
   * A savepoint around one handler call, released right after it: two short statements
   * per handled event, the price of pinning a swallowed database error on its own event.
   * The applier uses it only when a batch run without it failed.
   * PostgreSQL answers `25P02` (in failed SQL transaction) to the release when the handler
   * caught an error and carried on; rolling back to the savepoint makes the transaction
   * usable again for the next event.
   */
  async isolate(work: () => Promise<void>): Promise<IsolatedOutcome> {
    await this.#applySettings();
    const trx = this.#trx;
    await trx.raw('savepoint tributary_handler');
    await work();
    try {
      await trx.raw('release savepoint tributary_handler');
      return 'kept';
    } catch (error) {
      if ((error as { code?: unknown }).code !== '25P02') throw error;
      await trx.raw('rollback to savepoint tributary_handler');
      await trx.raw('release savepoint tributary_handler');
      return 'rolled-back';
    }
  }

  #whereAggregate(aggregate: AggregateRef): Record<string, string | number> {
    return {
      ...this.#owner,
      aggregate_type: aggregate.aggregateType,
      aggregate_id: aggregate.aggregateId,
    };
  }
}
