import type { Knex } from 'knex';
import type { ProjectionRuntimeConfig } from '../../config.js';
import {
  ProjectionCommitError,
  ProjectionRetiredError,
  type RecordPosition,
} from '../../errors.js';
import { typedRow, typedRows } from '../../internal/sql.js';
import {
  migrationContext,
  tableNamesFor,
  versionedTableName,
  type AnyProjection,
  type ProjectionContext,
} from '../../projection.js';
import type {
  AggregateRef,
  AggregateVersion,
  ParkedEventRow,
  PrepareResult,
  ProjectionStore,
  ProjectionStoreTransaction,
  ProjectionVersionRow,
  ProjectionVersionStatus,
  StoredCheckpoint,
  StoredProjection,
} from '../projection-store.js';
import {
  PostgresProjectionTransaction,
  type TransactionSettings,
} from './postgres-projection-transaction.js';
import {
  createRuntimeTables,
  quoteDotted,
  runtimeTableRefs,
  runtimeTables,
  type RuntimeTableRefs,
  type RuntimeTables,
} from './tables.js';

/**
 * The runtime's tables (checkpoints, aggregate versions, parked events, the registry of
 * projection versions, applied read-model migrations) and the life cycle of projection
 * versions: migrate, register, swap the reader views atomically, retire.
 *
 * Works on any knex Postgres client: `pg` against a server, or PGlite in tests.
 */
export class PostgresProjectionStore implements ProjectionStore<ProjectionContext> {
  /** The runtime configuration it was given; status and rebuild read topic names from it. */
  readonly config: ProjectionRuntimeConfig;
  readonly tables: RuntimeTables;
  readonly refs: RuntimeTableRefs;
  /** Handler contexts without the transaction, computed once per projection version. */
  readonly #settings: TransactionSettings;
  readonly #contexts = new WeakMap<StoredProjection, Omit<ProjectionContext, 'trx'>>();

  /**
   * @param knex any knex Postgres client; the caller owns it and destroys it.
   * @param config the resolved runtime settings (`resolveProjectionRuntimeConfig`): the
   * runtime, not the store, fills in defaults; the store uses its table names.
   * @throws InvalidIdentifierError for a bad schema or table name.
   */
  constructor(
    readonly knex: Knex,
    config: ProjectionRuntimeConfig,
  ) {
    this.config = config;
    this.tables = runtimeTables(config);
    this.refs = runtimeTableRefs(config);
    this.#settings = {
      lockTimeout: `${config.lockTimeoutMs}ms`,
      idleInTransactionTimeout: `${config.idleInTransactionTimeoutMs}ms`,
    };
  }

  /**
   * Creates the runtime tables if missing. Idempotent and safe to run concurrently: a
   * transaction-scoped advisory lock serializes concurrent starts.
   */
  async ensureSchema(): Promise<void> {
    await createRuntimeTables(this.knex, this.tables, this.config.readModelSchema);
  }

  /**
   * ONE PostgreSQL transaction; handlers get it as `context.trx`. Rolled back when `work`
   * throws. Its `lock_timeout` and `idle_in_transaction_session_timeout` are set for this
   * transaction only: a process frozen mid-batch has its session ended by the server (its
   * checkpoint row lock goes with it), and a batch never waits for a lock without bound.
   *
   * @throws ProjectionCommitError when `work` resolved but COMMIT failed.
   */
  async transaction<T>(
    projection: StoredProjection,
    work: (transaction: ProjectionStoreTransaction<ProjectionContext>) => Promise<T>,
  ): Promise<T> {
    const context = this.#contextOf(projection);
    let worked = false;
    try {
      return await this.knex.transaction(async (trx) => {
        // Set with the transaction's first statement (no round trip of their own).
        const result = await work(
          new PostgresProjectionTransaction({
            trx,
            projection,
            context,
            tables: this.tables,
            refs: this.refs,
            settings: this.#settings,
          }),
        );
        worked = true;
        return result;
      });
    } catch (error) {
      // Everything inside succeeded: the failure is COMMIT's own (a deferred constraint, a
      // serialization failure, a lost connection), which the caller pins on a record.
      if (worked) throw new ProjectionCommitError(projection.name, projection.version, error);
      throw error;
    }
  }

  /** Whether a dead letter was published for this record (see `recordDeadLettered`). */
  async wasDeadLettered(projection: StoredProjection, position: RecordPosition): Promise<boolean> {
    const row = await typedRow<{ record_offset: string }>(
      this.knex(this.refs.deadLetters)
        .where({
          projection: projection.name,
          version: projection.version,
          topic: position.topic,
          partition: position.partition,
          record_offset: position.offset,
        })
        .first('record_offset'),
    );
    return row !== undefined;
  }

  /** Records a published dead letter, in its own transaction (never the batch's). */
  async recordDeadLettered(
    projection: StoredProjection,
    position: RecordPosition,
    eventId: string | undefined,
  ): Promise<void> {
    await this.knex(this.refs.deadLetters)
      .insert({
        projection: projection.name,
        version: projection.version,
        topic: position.topic,
        partition: position.partition,
        record_offset: position.offset,
        event_id: eventId ?? null,
      })
      .onConflict(['projection', 'version', 'topic', 'partition', 'record_offset'])
      .ignore();
  }

  #contextOf(projection: StoredProjection): Omit<ProjectionContext, 'trx'> {
    let context = this.#contexts.get(projection);
    if (context === undefined) {
      context = {
        tables: tableNamesFor(projection, projection.version, this.config.readModelSchema),
        projection: { name: projection.name, version: projection.version },
      };
      this.#contexts.set(projection, context);
    }
    return context;
  }

  /**
   * Makes a projection version ready to run: applies its pending read-model migrations and
   * registers it. The first version of a projection becomes active at once (the reader
   * views are created on its tables); a later version starts as `building` and is swapped
   * in by {@link activate} once it has caught up.
   *
   * @throws ProjectionRetiredError when this version was already replaced by a newer one.
   */
  async prepare(projection: AnyProjection): Promise<PrepareResult> {
    return this.knex.transaction(async (trx) => {
      // One preparer per projection at a time: two runtime processes starting together
      // must not both run the migrations.
      await trx.raw(`select pg_advisory_xact_lock(hashtext(?))`, [
        `tributary:projection:${projection.name}`,
      ]);
      const rows = await typedRows<{ version: number; status: ProjectionVersionStatus }>(
        trx(this.refs.registry).where({ projection: projection.name }).select('version', 'status'),
      );
      const own = rows.find((row) => Number(row.version) === projection.version);
      if (own?.status === 'retired')
        throw new ProjectionRetiredError(projection.name, projection.version);
      const done = new Set(
        (
          await typedRows<{ name: string }>(
            trx(this.refs.migrations)
              .where({ projection: projection.name, version: projection.version })
              .select('name'),
          )
        ).map((row) => row.name),
      );
      const applied: string[] = [];
      for (const migration of projection.migrations) {
        if (done.has(migration.name)) continue;
        await migration.up(
          trx,
          migrationContext(trx, projection, projection.version, this.config.readModelSchema),
        );
        await trx(this.refs.migrations).insert({
          projection: projection.name,
          version: projection.version,
          name: migration.name,
        });
        applied.push(migration.name);
      }
      if (own !== undefined) return { status: own.status, applied };
      const hasActive = rows.some((row) => row.status === 'active');
      const status: ProjectionVersionStatus = hasActive ? 'building' : 'active';
      await trx(this.refs.registry).insert({
        projection: projection.name,
        version: projection.version,
        status,
        tables: JSON.stringify(projection.tables),
        activated_at: status === 'active' ? trx.fn.now() : null,
      });
      if (status === 'active') await this.createViews(trx, projection, projection.version);
      return { status, applied };
    });
  }

  /**
   * Swaps a caught-up version in, in ONE transaction: the reader views switch to its
   * tables, the previously active version is marked retired, its checkpoints, aggregate
   * versions and parked events are deleted and its tables dropped. Readers see either the
   * old or the new read model, never a mix. Deleting the old checkpoint rows waits for any
   * batch the old version's runtime is applying (it holds those rows FOR UPDATE), and that
   * runtime stops when it finds its rows gone and its version retired.
   *
   * @returns the version that was retired, if any.
   */
  async activate(projection: AnyProjection): Promise<number | undefined> {
    return this.knex.transaction(async (trx) => {
      await trx.raw(`select pg_advisory_xact_lock(hashtext(?))`, [
        `tributary:projection:${projection.name}`,
      ]);
      const rows = await typedRows<{
        version: number;
        status: ProjectionVersionStatus;
        tables: string[] | string;
      }>(
        trx(this.refs.registry)
          .where({ projection: projection.name })
          .forUpdate()
          .select('version', 'status', 'tables'),
      );
      const own = rows.find((row) => Number(row.version) === projection.version);
      if (own === undefined || own.status === 'retired')
        throw new ProjectionRetiredError(projection.name, projection.version);
      if (own.status === 'active') return undefined;
      const previous = rows.find((row) => row.status === 'active');
      if (previous !== undefined) {
        const oldTables =
          typeof previous.tables === 'string'
            ? (JSON.parse(previous.tables) as string[])
            : previous.tables;
        for (const table of oldTables) {
          await trx.raw(
            `drop view if exists ${quoteDotted(`${this.config.readModelSchema}.${table}`)}`,
          );
        }
      }
      await this.createViews(trx, projection, projection.version);
      await trx(this.refs.registry)
        .where({ projection: projection.name, version: projection.version })
        .update({ status: 'active', activated_at: trx.fn.now() });
      if (previous === undefined) return undefined;
      const oldVersion = Number(previous.version);
      await this.retire(trx, projection.name, oldVersion, previous.tables);
      return oldVersion;
    });
  }

  private async retire(
    trx: Knex.Transaction,
    name: string,
    version: number,
    tablesValue: string[] | string,
  ): Promise<void> {
    const where = { projection: name, version };
    await trx(this.refs.registry)
      .where(where)
      .update({ status: 'retired', retired_at: trx.fn.now() });
    await trx(this.refs.checkpoints).where(where).delete();
    await trx(this.refs.aggregates).where(where).delete();
    await trx(this.refs.parked).where(where).delete();
    await trx(this.refs.deadLetters).where(where).delete();
    const tables =
      typeof tablesValue === 'string' ? (JSON.parse(tablesValue) as string[]) : tablesValue;
    for (const table of tables) {
      await trx.raw(
        `drop table if exists ${quoteDotted(`${this.config.readModelSchema}.${versionedTableName(table, version)}`)} cascade`,
      );
    }
  }

  private async createViews(
    trx: Knex.Transaction,
    projection: AnyProjection,
    version: number,
  ): Promise<void> {
    const schema = this.config.readModelSchema;
    for (const table of projection.tables) {
      const view = quoteDotted(`${schema}.${table}`);
      await trx.raw(`drop view if exists ${view}`);
      await trx.raw(
        `create view ${view} as select * from ${quoteDotted(`${schema}.${versionedTableName(table, version)}`)}`,
      );
    }
  }

  /** Every registered version of every projection (or of one). */
  async versions(projectionName?: string): Promise<ProjectionVersionRow[]> {
    const query = this.knex(this.refs.registry).select('projection', 'version', 'status', 'tables');
    if (projectionName !== undefined) void query.where({ projection: projectionName });
    const rows = await typedRows<{
      projection: string;
      version: number;
      status: ProjectionVersionStatus;
      tables: string[] | string;
    }>(query.orderBy(['projection', 'version']));
    return rows.map((row) => ({
      projection: row.projection,
      version: Number(row.version),
      status: row.status,
      tables: typeof row.tables === 'string' ? (JSON.parse(row.tables) as string[]) : row.tables,
    }));
  }

  /** Stored checkpoints of a projection version (or of all versions). */
  async aggregateVersions(
    projection: { readonly name: string; readonly version: number },
    aggregates: readonly AggregateRef[],
  ): Promise<AggregateVersion[]> {
    if (aggregates.length === 0) return [];
    const rows = await typedRows<{
      aggregate_type: string;
      aggregate_id: string;
      last_version: number;
      parked: boolean;
    }>(
      this.knex(this.refs.aggregates)
        .where({ projection: projection.name, version: projection.version })
        .whereIn(
          ['aggregate_type', 'aggregate_id'],
          aggregates.map((aggregate) => [aggregate.aggregateType, aggregate.aggregateId]),
        )
        .select('aggregate_type', 'aggregate_id', 'last_version', 'parked'),
    );
    return rows.map((row) => ({
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      lastVersion: Number(row.last_version),
      parked: row.parked,
    }));
  }

  async checkpoints(projectionName?: string, version?: number): Promise<StoredCheckpoint[]> {
    const query = this.knex(this.refs.checkpoints).select('*');
    if (projectionName !== undefined) void query.where({ projection: projectionName });
    if (version !== undefined) void query.where({ version });
    const rows = await typedRows<{
      projection: string;
      version: number;
      topic: string;
      partition: number;
      next_offset: string | number;
      updated_at: Date | string;
    }>(query.orderBy(['projection', 'version', 'topic', 'partition']));
    return rows.map((row) => ({
      projection: row.projection,
      version: Number(row.version),
      topic: row.topic,
      partition: Number(row.partition),
      nextOffset: Number(row.next_offset),
      updatedAt: new Date(row.updated_at),
    }));
  }

  /** Parked events, oldest first per aggregate. */
  async parkedEvents(
    filter: { projection?: string; version?: number } = {},
  ): Promise<ParkedEventRow[]> {
    const query = this.knex(this.refs.parked).select(
      'id',
      'projection',
      'version',
      'aggregate_type',
      'aggregate_id',
      'aggregate_version',
      'event_id',
      'event_type',
      'topic',
      'partition',
      'record_offset',
      'reason',
      'error',
      'parked_at',
    );
    if (filter.projection !== undefined) void query.where({ projection: filter.projection });
    if (filter.version !== undefined) void query.where({ version: filter.version });
    const rows = await typedRows<{
      id: string | number;
      projection: string;
      version: number;
      aggregate_type: string;
      aggregate_id: string;
      aggregate_version: number;
      event_id: string;
      event_type: string;
      topic: string;
      partition: number;
      record_offset: string | number;
      reason: string;
      error: string | null;
      parked_at: Date | string;
    }>(query.orderBy(['projection', 'version', 'aggregate_type', 'aggregate_id', 'record_offset']));
    return rows.map((row) => ({
      id: Number(row.id),
      projection: row.projection,
      version: Number(row.version),
      aggregateType: row.aggregate_type,
      aggregateId: row.aggregate_id,
      aggregateVersion: Number(row.aggregate_version),
      eventId: row.event_id,
      eventType: row.event_type,
      topic: row.topic,
      partition: Number(row.partition),
      offset: Number(row.record_offset),
      reason: row.reason,
      error: row.error,
      parkedAt: new Date(row.parked_at),
    }));
  }
}
