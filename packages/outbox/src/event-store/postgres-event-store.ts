/**
 * The PostgreSQL event store. Over 400 lines because the append's outcomes (appended,
 * duplicate by event id, duplicate by command id, concurrency conflict, savepoint inside a
 * caller's transaction) share one statement and one retry loop and read best in one place;
 * the SQL itself lives in `event-store-sql.ts`.
 */
import type { UpcasterChain } from '@tributary/core';
import {
  assertCommandId,
  assertDistinctCommandIds,
  assertDistinctStreams,
  processedCommandOf,
  type ProcessedCommand,
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
  type PrepareAppendOptions,
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
  findCommandStatement,
  isUniqueViolation,
  readStatement,
  singleStreamAppendStatement,
  singleStreamParams,
  toEnvelope,
  toCommandRows,
  toInputRows,
  type AppendRow,
  type EventRow,
  type KnownCommand,
  type KnownEvent,
  type SingleStreamRow,
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
  readonly #findCommandSql: string;
  /** Prepared-statement names, unique per table so two configurations never share a plan. */
  readonly #appendName: string;
  readonly #readName: string;
  /** The single-stream fast path's statements and their names, by shape (see `#fastStatement`). */
  readonly #fastStatements: readonly { readonly text: string; readonly name: string }[];
  /** True when each statement commits on its own (a pool), false inside a caller's transaction. */
  readonly #autocommit: boolean;
  /** False once a connection that was not a pool turned out to run outside BEGIN. */
  #inTransactionBlock = true;
  /** What `prepareAppend` needs, made once rather than per append. */
  readonly #prepareOptions: PrepareAppendOptions;

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
    this.#appendSql = appendStatement(this.#events, qualifiedTable(this.#config, 'commandsTable'));
    this.#readSql = readStatement(this.#events);
    this.#findCommandSql = findCommandStatement(qualifiedTable(this.#config, 'commandsTable'));
    const suffix = `${this.#config.schema}_${this.#config.eventsTable}`;
    this.#appendName = `tributary_append_${suffix}`;
    const commands = qualifiedTable(this.#config, 'commandsTable');
    // Indexed by shape: exact ×4 + several events ×2 + command id (see `#appendFast`).
    this.#fastStatements = Array.from({ length: 8 }, (_, tag) => ({
      text: singleStreamAppendStatement(this.#events, commands, {
        exact: tag >= 4,
        multi: (tag & 2) !== 0,
        command: (tag & 1) !== 0,
      }),
      // The shape leads the suffix, as a digit: no schema name starts with one, so these
      // never collide with `#appendName`, and the server keys names by their first 63 bytes.
      name: `tributary_append_${tag}_${suffix}`,
    }));
    this.#readName = `tributary_read_${suffix}`;
    this.#prepareOptions = {
      idGenerator: options.idGenerator ?? uuidV7,
      clock: options.clock ?? systemClock,
      maxPayloadBytes: this.#config.maxPayloadBytes,
      maxRecordBytes: this.#config.maxRecordBytes,
    };
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
    // The common case, spelt out rather than through `appendMany`: between two appends the
    // process waits on the network and its code runs cold, so every allocation and call
    // skipped here is client CPU a lone writer no longer waits for.
    const plan = this.#plan(0, stream, events, options.expectedVersion, options.commandId);
    if (plan.events.length > 0 && this.#canRunAlone) {
      const appended = await this.#appendFast(plan);
      if (appended !== undefined) return appended;
    }
    const results = await this.#appendClassified([plan]);
    return results[0] as AppendResult;
  }

  async findCommand(commandId: string): Promise<ProcessedCommand | undefined> {
    assertCommandId(commandId);
    const [row] = await this.#executor.query<KnownCommand & Record<string, unknown>>(
      this.#findCommandSql,
      [commandId],
    );
    return row === undefined ? undefined : toProcessedCommand(row);
  }

  async appendMany(appends: readonly StreamAppend[]): Promise<readonly AppendResult[]> {
    // One append (appendToStream, the common case) cannot repeat a stream or a command id.
    if (appends.length > 1) {
      assertDistinctStreams(appends);
      assertDistinctCommandIds(appends);
    }
    // Everything is validated before the first byte goes to the database.
    const plans: StreamPlan[] = appends.map((append, index) =>
      this.#plan(index, append.stream, append.events, append.expectedVersion, append.commandId),
    );
    const only = plans.length === 1 ? plans[0] : undefined;
    if (only !== undefined && only.events.length > 0 && this.#canRunAlone) {
      const appended = await this.#appendFast(only);
      if (appended !== undefined) return [appended];
    }
    return this.#appendClassified(plans);
  }

  /** One stream's append validated and prepared (ids, timestamps, JSON text, size bound). */
  #plan(
    index: number,
    stream: StreamRef,
    events: readonly NewEvent[],
    expectedVersion: AppendOptions['expectedVersion'],
    commandId: string | undefined,
  ): StreamPlan {
    const expected = expectedVersion ?? 'any';
    const prepared = prepareAppend(
      stream,
      events,
      expected,
      commandId === undefined ? this.#prepareOptions : { ...this.#prepareOptions, commandId },
    );
    validatePayloads(this.#options.payloadValidator, stream, prepared);
    return { index, stream, expected, events: prepared, commandId };
  }

  /**
   * The full statement, which classifies every outcome (appended, duplicate by event id or
   * command id, conflict), with its retries.
   */
  async #appendClassified(plans: readonly StreamPlan[]): Promise<readonly AppendResult[]> {
    // A concurrent writer may insert first. Re-running the statement is correct when the
    // caller asked for no version check ('any'), when the clash was on an event id (the
    // re-run classifies it as duplicate or error), or when the append carries a command id
    // (a racing duplicate of the command is then found and reported as 'duplicate'; anything
    // else is a version mismatch the re-run reports). Inside a caller's transaction the
    // statement runs in a savepoint, so the transaction survives the clash.
    const rerunnable = (error: unknown): boolean =>
      isUniqueViolation(error) &&
      (plans.every((plan) => plan.expected === 'any') ||
        plans.some((plan) => plan.commandId !== undefined) ||
        this.#isEventIdViolation(error));
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

  /** True when a failing statement cannot abort a caller's transaction: it runs on its own. */
  get #canRunAlone(): boolean {
    return this.#autocommit || !this.#inTransactionBlock;
  }

  /**
   * The common append (one stream, at least one event) in one short statement that probes
   * no more than a plain INSERT plus the stream's version. It returns the result when the
   * events were inserted, and `undefined` when they were not: the expectation did not hold,
   * or an event id, the next version or the command id is already taken (SQLSTATE 23505;
   * the statement committed nothing). The caller then runs the full statement, which tells
   * a duplicate, a conflict and a reused command id apart exactly as before, so the fast
   * path changes no outcome, only the cost of the appends that succeed. With an exact
   * expectation a conflict thus takes two round trips: the price of a success that returns
   * no row (see `singleStreamAppendStatement`).
   */
  async #appendFast(plan: StreamPlan): Promise<AppendResult | undefined> {
    const expected = plan.expected;
    const exact = expected !== 'any';
    const statement =
      this.#fastStatements[
        (exact ? 4 : 0) + (plan.events.length > 1 ? 2 : 0) + (plan.commandId === undefined ? 0 : 1)
      ];
    if (statement === undefined) return undefined;
    try {
      if (exact) {
        const written = await this.#executor.execute(
          statement.text,
          singleStreamParams(plan),
          statement.name,
        );
        // Nothing written: the expectation did not hold (a stale version, or a retry whose
        // events are stored); the full statement says which.
        if (written === 0) return undefined;
        return appendedResult(plan, expected === 'no-stream' ? 0 : expected);
      }
      const rows = await this.#executor.query<SingleStreamRow>(
        statement.text,
        singleStreamParams(plan),
        statement.name,
      );
      let last: number | undefined;
      for (const row of rows) last = Math.max(last ?? 0, row.aggregate_version ?? 0);
      return last === undefined ? undefined : appendedResult(plan, last - plan.events.length);
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  async #appendOnce(plans: readonly StreamPlan[]): Promise<AppendResult[]> {
    const row = await this.#runAppendStatement(plans);
    const versions = new Map(row.versions.map(({ s, version }) => [s, version]));
    if (row.known_commands.length > 0) {
      return this.#resolveKnownCommands(plans, row.known_commands, versions);
    }
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
   * Runs the append statement. Inside a caller's transaction it runs in a savepoint: a
   * unique violation (a writer that got there first) would otherwise abort the caller's
   * whole transaction, and the `ConcurrencyError` would be followed by "current transaction
   * is aborted" on the command bus's reload. Rolled back to the savepoint, the transaction
   * stays usable: the bus reloads, decides again and appends in the same transaction.
   */
  async #runAppendStatement(plans: readonly StreamPlan[]): Promise<AppendRow> {
    const params = [JSON.stringify(toInputRows(plans)), JSON.stringify(toCommandRows(plans))];
    const run = async (): Promise<AppendRow> => {
      const [row] = await this.#executor.query<AppendRow>(
        this.#appendSql,
        params,
        this.#appendName,
      );
      if (row === undefined) throw new Error('append statement returned no row');
      return row;
    };
    if (this.#autocommit || !this.#inTransactionBlock) return run();
    try {
      await this.#executor.query('savepoint tributary_append', []);
    } catch (error) {
      // A pg client outside BEGIN: each statement commits on its own, no savepoint needed.
      if ((error as { code?: unknown }).code !== NO_ACTIVE_TRANSACTION) throw error;
      this.#inTransactionBlock = false;
      return run();
    }
    let row: AppendRow;
    try {
      row = await run();
    } catch (error) {
      await this.#executor.query('rollback to savepoint tributary_append', []);
      throw error;
    }
    await this.#executor.query('release savepoint tributary_append', []);
    return row;
  }

  /**
   * Some command ids were recorded by earlier appends: those streams are idempotent
   * retries (write nothing, return the command's events); a command id recorded for
   * another stream is an error. The statement inserted nothing, so the other streams are
   * appended in a second statement.
   */
  async #resolveKnownCommands(
    plans: readonly StreamPlan[],
    known: readonly KnownCommand[],
    versions: ReadonlyMap<number, number>,
  ): Promise<AppendResult[]> {
    const byId = new Map(known.map((command) => [command.command_id, command]));
    const duplicates = new Map<number, AppendResult>();
    for (const plan of plans) {
      if (plan.commandId === undefined) continue;
      const recorded = byId.get(plan.commandId);
      const command = processedCommandOf(
        plan.stream,
        plan.commandId,
        recorded === undefined ? undefined : toProcessedCommand(recorded),
      );
      if (command === undefined) continue;
      const count = command.toVersion - command.fromVersion + 1;
      const events =
        count === 0
          ? []
          : (
              await this.readStream(plan.stream, {
                fromVersion: command.fromVersion,
                maxCount: count,
              })
            ).events;
      duplicates.set(plan.index, {
        status: 'duplicate',
        stream: { aggregateType: plan.stream.aggregateType, aggregateId: plan.stream.aggregateId },
        nextExpectedVersion: versions.get(plan.index) ?? 0,
        events,
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
    // Inside a caller's transaction the savepoint was rolled back: reading is safe there too.
    for (const plan of plans) {
      const { currentVersion } = await this.readStream(plan.stream, { maxCount: 1 });
      if (!expectationHolds(plan.expected, currentVersion)) {
        return new ConcurrencyError(plan.stream, plan.expected, currentVersion, error);
      }
    }
    return new ConcurrencyError(first.stream, first.expected, undefined, error);
  }
}

/** SQLSTATE 25P01: SAVEPOINT outside a transaction block. */
const NO_ACTIVE_TRANSACTION = '25P01';

function toProcessedCommand(row: KnownCommand): ProcessedCommand {
  return {
    commandId: row.command_id,
    stream: { aggregateType: row.aggregate_type, aggregateId: row.aggregate_id },
    fromVersion: row.from_version,
    toVersion: row.to_version,
  };
}

function isAutocommit(connection: SqlConnection): boolean {
  if (connection instanceof pg.Pool) return true;
  const knexLike = connection as { raw?: unknown; isTransaction?: boolean };
  return typeof knexLike.raw === 'function' && knexLike.isTransaction !== true;
}
