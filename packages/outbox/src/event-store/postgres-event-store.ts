import type { UpcasterChain } from '@tributary/core';
import {
  assertDistinctStreams,
  assertReadOptions,
  assertStreamRef,
  ConcurrencyError,
  storedVersionsOfRetry,
  prepareAppend,
  validatePayloads,
  type PayloadValidator,
  isTributaryError,
  retry,
  systemClock,
  uuidV7,
  type AppendOptions,
  type AppendResult,
  type Clock,
  type EventEnvelope,
  type EventStore,
  type IdGenerator,
  type NewEvent,
  type ReadStreamOptions,
  type ReadStreamResult,
  type StreamAppend,
  type StreamRef,
} from '@tributary/core';
import pg from 'pg';
import { qualifiedTable, resolveOutboxConfig, type OutboxConfig } from '../config.js';
import { toExecutor, type SqlConnection, type SqlExecutor } from '../internal/sql-executor.js';
import {
  appendedResult,
  appendStatement,
  expectationHolds,
  isUniqueViolation,
  readStatement,
  toEnvelope,
  toInputRows,
  type AppendRow,
  type EventRow,
  type KnownEvent,
  type StreamPlan,
} from './event-store-sql.js';

/** Options of {@link PostgresEventStore}. */
export interface PostgresEventStoreOptions {
  /**
   * The connection: a pg pool or client, knex, or a knex transaction. Or pass
   * `connectionString` and the store creates (and on `close()` ends) its own pool.
   */
  readonly connection?: SqlConnection;
  readonly connectionString?: string;
  /** Schema, table names and payload limit; see {@link OutboxConfig} for defaults. */
  readonly config?: Partial<OutboxConfig>;
  /** Applied by `readStream` to every event (idempotent: already-current events pass unchanged). */
  readonly upcasters?: UpcasterChain;
  readonly idGenerator?: IdGenerator;
  readonly clock?: Clock;
  /** Internal retries of an `'any'` append that raced another writer. Default 25. */
  readonly anyVersionRetries?: number;
  /**
   * Checks every payload against its declared schema before anything is written (see
   * `createSchemaPayloadValidator`); a mismatch fails the append with
   * `PayloadSchemaMismatchError`. Default: none.
   */
  readonly payloadValidator?: PayloadValidator;
}

/**
 * The PostgreSQL {@link EventStore}: the outbox table is the event store, so an append is
 * the outbox write, and the WAL capturer streams it to Kafka.
 *
 * - One round trip per append, whatever the number of events or streams: one statement
 *   reads the current versions, checks expectations and idempotency and inserts.
 * - The unique (aggregate type, aggregate id, version) constraint is the optimistic
 *   concurrency guard; its violation (SQLSTATE 23505) becomes a {@link ConcurrencyError}.
 * - `withTransaction(trx)` binds the store to the caller's knex or pg transaction, so domain
 *   writes and events commit together.
 */
export class PostgresEventStore implements EventStore {
  readonly #executor: SqlExecutor;
  readonly #ownedPool: pg.Pool | undefined;
  readonly #config: OutboxConfig;
  readonly #events: string;
  readonly #options: PostgresEventStoreOptions;
  readonly #appendSql: string;
  readonly #readSql: string;
  /** Prepared-statement names, unique per table so two configurations never share a plan. */
  readonly #appendName: string;
  readonly #readName: string;
  /** True when each statement commits on its own (a pool), false inside a caller's transaction. */
  readonly #autocommit: boolean;

  constructor(options: PostgresEventStoreOptions) {
    this.#options = options;
    this.#config = resolveOutboxConfig(options.config);
    this.#events = qualifiedTable(this.#config, 'eventsTable');
    if (options.connection !== undefined) {
      this.#executor = toExecutor(options.connection);
      this.#autocommit = isAutocommit(options.connection);
    } else if (options.connectionString !== undefined) {
      this.#ownedPool = new pg.Pool({
        connectionString: options.connectionString,
        max: 10,
        // Our statements are prepared by name; a generic plan skips ~1 ms of planning per
        // append, which is most of its cost. Only set on the pool the store owns.
        options: '-c plan_cache_mode=force_generic_plan',
      });
      this.#executor = toExecutor(this.#ownedPool);
      this.#autocommit = true;
    } else {
      throw new Error(
        'PostgresEventStore needs a connection or a connectionString (e.g. DATABASE_URL)',
      );
    }
    this.#appendSql = appendStatement(this.#events);
    this.#readSql = readStatement(this.#events);
    const suffix = `${this.#config.schema}_${this.#config.eventsTable}`;
    this.#appendName = `tributary_append_${suffix}`;
    this.#readName = `tributary_read_${suffix}`;
  }

  /** The resolved configuration (table names, limits). */
  get config(): OutboxConfig {
    return this.#config;
  }

  /**
   * A store that runs its statements in the caller's transaction (knex transaction or pg
   * client inside BEGIN). Nothing is committed by the store: the caller's commit or rollback
   * decides for events and domain rows alike.
   */
  withTransaction(transaction: SqlConnection): PostgresEventStore {
    const { connectionString: _ignored, ...rest } = this.#options;
    return new PostgresEventStore({ ...rest, connection: transaction });
  }

  /** Ends the pool the store created itself (none when a connection was passed in). */
  async close(): Promise<void> {
    await this.#ownedPool?.end();
  }

  async readStream(stream: StreamRef, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    assertStreamRef(stream);
    assertReadOptions(options);
    const rows = await this.#executor.query<EventRow>(
      this.#readSql,
      [
        stream.aggregateType,
        stream.aggregateId,
        options.fromVersion ?? 1,
        options.maxCount ?? null,
      ],
      this.#readName,
    );
    const upcasters = this.#options.upcasters;
    const events: EventEnvelope[] = [];
    for (const row of rows) {
      if (row.event_id === null) continue;
      const envelope = toEnvelope(stream, row);
      events.push(upcasters === undefined ? envelope : upcasters.upcast(envelope));
    }
    return {
      stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
      currentVersion: rows[0]?.current_version ?? 0,
      events,
    };
  }

  async appendToStream(
    stream: StreamRef,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const [result] = await this.appendMany([
      { stream, events, expectedVersion: options.expectedVersion ?? 'any' },
    ]);
    return result as AppendResult;
  }

  async appendMany(appends: readonly StreamAppend[]): Promise<readonly AppendResult[]> {
    assertDistinctStreams(appends);
    const prepareOptions = {
      idGenerator: this.#options.idGenerator ?? uuidV7,
      clock: this.#options.clock ?? systemClock,
      maxPayloadBytes: this.#config.maxPayloadBytes,
      maxRecordBytes: this.#config.maxRecordBytes,
    };
    // Everything is validated before the first byte goes to the database.
    const plans: StreamPlan[] = appends.map((append, index) => {
      const expected = append.expectedVersion ?? 'any';
      const events = prepareAppend(append.stream, append.events, expected, prepareOptions);
      validatePayloads(this.#options.payloadValidator, append.stream, events);
      return { index, stream: append.stream, expected, events };
    });
    // A concurrent writer may insert first. Re-running the statement is correct when the
    // caller asked for no version check ('any'), or when the clash was on an event id (the
    // re-run classifies it as duplicate or error). Inside a caller's transaction the
    // transaction is already aborted, so the caller must retry it as a whole.
    const rerunnable = (error: unknown): boolean =>
      this.#autocommit &&
      isUniqueViolation(error) &&
      (plans.every((plan) => plan.expected === 'any') || this.#isEventIdViolation(error));
    try {
      return await retry(() => this.#appendOnce(plans), {
        retries: this.#options.anyVersionRetries ?? 25,
        initialDelayMs: 1,
        maxDelayMs: 50,
        isRetriable: rerunnable,
        operation: 'append',
      });
    } catch (error) {
      const cause = isTributaryError(error, 'RETRIES_EXHAUSTED') ? error.cause : error;
      if (!isUniqueViolation(cause)) throw error;
      throw await this.#concurrencyError(cause, plans);
    }
  }

  async #appendOnce(plans: readonly StreamPlan[]): Promise<AppendResult[]> {
    const [row] = await this.#executor.query<AppendRow>(
      this.#appendSql,
      [JSON.stringify(toInputRows(plans))],
      this.#appendName,
    );
    if (row === undefined) throw new Error('append statement returned no row');
    const versions = new Map(row.versions.map(({ s, version }) => [s, version]));
    if (row.known.length > 0) return this.#resolveKnown(plans, row.known, versions);
    const mismatch = plans.find(
      (plan) => !expectationHolds(plan.expected, versions.get(plan.index) ?? 0),
    );
    if (mismatch !== undefined) {
      throw new ConcurrencyError(
        mismatch.stream,
        mismatch.expected,
        versions.get(mismatch.index) ?? 0,
      );
    }
    if (row.inserted !== plans.reduce((sum, plan) => sum + plan.events.length, 0)) {
      throw new Error(`append inserted ${row.inserted} rows, expected all of them`);
    }
    return plans.map((plan) => appendedResult(plan, versions.get(plan.index) ?? 0));
  }

  /**
   * Some event ids already exist. A stream whose ids are all stored, in that stream, is an
   * idempotent retry; anything else is an error. Nothing was inserted by the statement, so
   * the remaining (new) streams are appended in a second statement.
   */
  async #resolveKnown(
    plans: readonly StreamPlan[],
    known: readonly KnownEvent[],
    versions: ReadonlyMap<number, number>,
  ): Promise<AppendResult[]> {
    const byId = new Map(known.map((event) => [event.event_id, event]));
    const duplicates = new Map<number, AppendResult>();
    for (const plan of plans) {
      const versionsStored = storedVersionsOfRetry(plan.stream, plan.events, (eventId) => {
        const event = byId.get(eventId);
        return event === undefined
          ? undefined
          : {
              aggregateType: event.aggregate_type,
              aggregateId: event.aggregate_id,
              aggregateVersion: event.aggregate_version,
            };
      });
      if (versionsStored === undefined) continue;
      const ids = plan.events.map((event) => event.eventId);
      const { events } = await this.readStream(plan.stream, {
        fromVersion: Math.min(...versionsStored),
      });
      const wanted = new Set(ids);
      duplicates.set(plan.index, {
        status: 'duplicate',
        stream: plan.stream,
        nextExpectedVersion: versions.get(plan.index) ?? 0,
        events: events.filter((event) => wanted.has(event.eventId)),
      });
    }
    const rest = plans.filter((plan) => !duplicates.has(plan.index));
    const appended = rest.length === 0 ? [] : await this.#appendOnce(rest);
    const appendedByIndex = new Map(
      rest.map((plan, position) => [plan.index, appended[position] as AppendResult]),
    );
    return plans.map(
      (plan) => duplicates.get(plan.index) ?? (appendedByIndex.get(plan.index) as AppendResult),
    );
  }

  #isEventIdViolation(error: unknown): boolean {
    return (error as { constraint?: unknown }).constraint === `${this.#config.eventsTable}_pkey`;
  }

  async #concurrencyError(error: unknown, plans: readonly StreamPlan[]): Promise<ConcurrencyError> {
    const [head] = plans;
    if (head === undefined)
      return new ConcurrencyError(
        { aggregateType: '?', aggregateId: '?' },
        'any',
        undefined,
        error,
      );
    const first = plans.find((plan) => plan.expected !== 'any') ?? head;
    if (!this.#autocommit)
      return new ConcurrencyError(first.stream, first.expected, undefined, error);
    for (const plan of plans) {
      const { currentVersion } = await this.readStream(plan.stream, { maxCount: 1 });
      if (!expectationHolds(plan.expected, currentVersion)) {
        return new ConcurrencyError(plan.stream, plan.expected, currentVersion, error);
      }
    }
    return new ConcurrencyError(first.stream, first.expected, undefined, error);
  }
}

function isAutocommit(connection: SqlConnection): boolean {
  if (connection instanceof pg.Pool) return true;
  const knexLike = connection as { raw?: unknown; isTransaction?: boolean };
  return typeof knexLike.raw === 'function' && knexLike.isTransaction !== true;
}
