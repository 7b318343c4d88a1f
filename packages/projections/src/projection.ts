import {
  assertAggregateType,
  assertEventType,
  type DomainEvent,
  type EventEnvelope,
  isTributaryError,
  SQL_IDENTIFIER_PATTERN,
} from '@tributary/core';
import type { Knex } from 'knex';
import type { OrderingPolicy, PoisonPolicy } from './config.js';
import { InvalidProjectionError, type RecordPosition } from './errors.js';

/**
 * An event as a projection handler receives it: the full envelope with the payload decoded
 * and upcast to the current schema version, plus where it sits in the log.
 */
export interface ProjectedEvent<
  Type extends string = string,
  Payload = unknown,
> extends EventEnvelope<Type, Payload> {
  /** Topic, partition and offset of the record. */
  readonly position: RecordPosition;
  /** Commit LSN of the source transaction (`X/Y`), when the capturer published it. */
  readonly commitLsn: string | undefined;
}

/** The projected event of each member of a domain event union, itself a union. */
export type ProjectedEventOf<E extends DomainEvent> =
  E extends DomainEvent<infer T, infer D> ? ProjectedEvent<T, D> : never;

/**
 * Physical names of a projection's tables, keyed by logical name, as `schema.table`
 * strings that knex's query builder understands (`trx(tables.balances)`) and that raw
 * SQL can bind as identifiers (`trx.raw('select * from ??', [tables.balances])`).
 */
export type TableNames<Tables extends string> = { readonly [Table in Tables]: string };

/**
 * What a handler works with besides the event: the context the PostgreSQL projection store
 * (`PostgresProjectionStore`) hands out for each unit of work.
 */
export interface ProjectionContext<Tables extends string = string> {
  /**
   * The transaction of the whole batch; the checkpoint moves in it too. Use it for every
   * read-model statement: a write outside it would not be exactly-once (and with a single
   * connection, as with PGlite, it would wait forever).
   */
  readonly trx: Knex.Transaction;
  /** This version's physical tables. */
  readonly tables: TableNames<Tables>;
  /** Name and version of the projection being applied. */
  readonly projection: { readonly name: string; readonly version: number };
}

/**
 * Applies one event to the read model. Declared through a method signature so that a
 * handler of one event type is assignable where any handler is expected (method
 * parameters are bivariant), which lets heterogenous projections share one array type.
 */
export type ProjectionHandler<Event, Tables extends string = string> = {
  handle(event: Event, context: ProjectionContext<Tables>): Promise<void> | void;
}['handle'];

/**
 * Applies the events of one batch in one call, e.g. with one set-based statement. Gets, in
 * log order, exactly the events the per-event handlers would get (types with a handler,
 * past the ordering guard) and must have the same effect as calling them one by one.
 */
export type ProjectionBatchHandler<Event, Tables extends string = string> = {
  handle(events: readonly Event[], context: ProjectionContext<Tables>): Promise<void> | void;
}['handle'];

/** Handlers by event type; event types without a handler are skipped (but still order-checked). */
export type ProjectionHandlers<E extends DomainEvent, Tables extends string> = {
  readonly [Type in E['type']]?: ProjectionHandler<
    ProjectedEventOf<Extract<E, { type: Type }>>,
    Tables
  >;
};

/** What a read-model migration gets besides the transaction. */
export interface MigrationContext<Tables extends string = string> {
  /** This version's tables as `schema.table` (for the query builder and raw `??` bindings). */
  readonly tables: TableNames<Tables>;
  /** The read-model schema. */
  readonly schema: string;
  /** This version's physical table names without the schema (`<table>_v<version>`). */
  readonly physical: TableNames<Tables>;
  /**
   * Creates one of the projection's tables in the read-model schema (knex's schema builder
   * needs the schema apart from the table name to name constraints correctly).
   */
  createTable(table: Tables, build: (builder: Knex.CreateTableBuilder) => void): Promise<void>;
}

/** One migration of a projection's read-model tables, run once per projection version. */
export interface ReadModelMigration<Tables extends string = string> {
  /** Unique within the projection, e.g. `0001_create_balances`. */
  readonly name: string;
  /** Creates or alters tables; runs in a transaction with this version's table names. */
  up(trx: Knex.Transaction, context: MigrationContext<Tables>): Promise<void>;
}

/**
 * A projection: which events it reads and how it turns them into read-model tables.
 * Define it with {@link defineProjection} or as an injectable class implementing it.
 */
export interface ProjectionDefinition<
  E extends DomainEvent = DomainEvent,
  Tables extends string = string,
> {
  /** Lower-case SQL identifier; names the consumer group, checkpoints and metrics. */
  readonly name: string;
  /**
   * Bump it whenever the handlers or tables change meaning: a new version is rebuilt from
   * the earliest offset into its own tables while the old one keeps serving.
   */
  readonly version: number;
  /** Aggregate types whose topics (`<prefix>.<AggregateType>`) this projection reads. */
  readonly aggregateTypes: readonly string[];
  /** Logical table names. Each version owns `<table>_v<version>`; readers query the view `<table>`. */
  readonly tables: readonly Tables[];
  /** Creates this version's tables, in order. */
  readonly migrations: readonly ReadModelMigration<Tables>[];
  /** Handlers by event type. */
  readonly handlers: ProjectionHandlers<E, Tables>;
  /**
   * Optional: applies a batch's events in ONE call instead of one handler call per event
   * (same transaction, same exactly-once bookkeeping). If it throws, the batch is rolled
   * back and run again through {@link handlers} one event at a time, so retries and the
   * poison policy still name the failing record; parked replays always use `handlers`.
   */
  readonly batchHandler?: ProjectionBatchHandler<ProjectedEventOf<E>, Tables>;
  /** Overrides the runtime's ordering policy for this projection. */
  readonly ordering?: OrderingPolicy;
  /** Overrides the runtime's poison-event policy for this projection. */
  readonly poison?: PoisonPolicy;
}

/** Any projection, whatever its events and tables. */
export type AnyProjection = ProjectionDefinition<DomainEvent, string>;

/** Longest `<table>_v<version>` Postgres accepts without truncating it. */
const MAX_IDENTIFIER_LENGTH = 63;

/**
 * Validates a projection and returns it unchanged, typed. Checks run at definition time so
 * that a typo fails on start-up rather than on the first event.
 *
 * @example
 * ```ts
 * const balances = defineProjection<AccountEvent, 'balances'>({
 *   name: 'balances', version: 1, aggregateTypes: ['Account'], tables: ['balances'],
 *   migrations: [{ name: '0001', up: (trx, m) => m.createTable('balances', (t) => { … }) }],
 *   handlers: { MoneyDeposited: async (event, { trx, tables }) => { … } },
 * });
 * ```
 *
 * @throws InvalidProjectionError naming what is wrong.
 */
export function defineProjection<E extends DomainEvent, Tables extends string = string>(
  definition: ProjectionDefinition<E, Tables>,
): ProjectionDefinition<E, Tables> {
  validateProjection(definition);
  return definition;
}

/**
 * Checks a projection (also one built as a class) without changing it.
 *
 * @throws InvalidProjectionError naming what is wrong.
 */
export function validateProjection(projection: AnyProjection): void {
  const name = String(projection.name);
  const fail = (reason: string): never => {
    throw new InvalidProjectionError(name, reason);
  };
  if (!SQL_IDENTIFIER_PATTERN.test(name)) fail(`name must match ${SQL_IDENTIFIER_PATTERN.source}`);
  if (!Number.isSafeInteger(projection.version) || projection.version < 1)
    fail(`version must be a positive integer, got ${String(projection.version)}`);
  // Modules written in plain JavaScript reach here without the type checker's help.
  for (const list of ['aggregateTypes', 'tables', 'migrations'] as const) {
    if (!Array.isArray(projection[list]))
      fail(`${list} must be an array (${list === 'aggregateTypes' ? 'not empty' : '[] for none'})`);
  }
  if (typeof projection.handlers !== 'object' || projection.handlers === null)
    fail('handlers must be an object of event type → handler function');
  if (projection.aggregateTypes.length === 0) fail('aggregateTypes must not be empty');
  for (const aggregateType of projection.aggregateTypes) {
    try {
      assertAggregateType(aggregateType);
    } catch (error) {
      fail(isTributaryError(error) ? error.message : String(error));
    }
  }
  const tables = new Set<string>();
  for (const table of projection.tables) {
    if (!SQL_IDENTIFIER_PATTERN.test(table))
      fail(`table "${table}" is not a lower-case identifier`);
    if (`${table}_v${projection.version}`.length > MAX_IDENTIFIER_LENGTH)
      fail(`table "${table}" is too long for its versioned name ${table}_v${projection.version}`);
    if (tables.has(table)) fail(`table "${table}" is listed twice`);
    tables.add(table);
  }
  const handlerTypes = Object.keys(projection.handlers);
  if (handlerTypes.length === 0) fail('it has no handlers');
  for (const eventType of handlerTypes) {
    try {
      assertEventType(eventType);
    } catch (error) {
      fail(isTributaryError(error) ? error.message : String(error));
    }
    if (typeof (projection.handlers as Record<string, unknown>)[eventType] !== 'function')
      fail(`handler of "${eventType}" is not a function`);
  }
  if (projection.batchHandler !== undefined && typeof projection.batchHandler !== 'function')
    fail('batchHandler is not a function');
  const migrations = new Set<string>();
  for (const migration of projection.migrations) {
    if (migrations.has(migration.name)) fail(`migration "${migration.name}" is listed twice`);
    migrations.add(migration.name);
  }
}

/** The event types a projection handles (the keys of its handlers). */
export function handledEventTypes(projection: AnyProjection): string[] {
  return Object.keys(projection.handlers);
}

/** Physical table of one version: `<table>_v<version>`. */
export function versionedTableName(table: string, version: number): string {
  return `${table}_v${version}`;
}

/** A version's physical tables in `schema`, as `schema.table` names. */
export function tableNamesFor<Tables extends string>(
  projection: Pick<ProjectionDefinition<DomainEvent, Tables>, 'tables'>,
  version: number,
  schema: string,
): TableNames<Tables> {
  const names = {} as Record<Tables, string>;
  for (const table of projection.tables) {
    names[table] = `${schema}.${versionedTableName(table, version)}`;
  }
  return names;
}

/** The context of a migration of one version in one schema. */
export function migrationContext<Tables extends string>(
  trx: Knex.Transaction,
  projection: Pick<ProjectionDefinition<DomainEvent, Tables>, 'tables'>,
  version: number,
  schema: string,
): MigrationContext<Tables> {
  const physical = {} as Record<Tables, string>;
  for (const table of projection.tables) physical[table] = versionedTableName(table, version);
  return {
    tables: tableNamesFor(projection, version, schema),
    schema,
    physical,
    async createTable(table, build) {
      await trx.schema.withSchema(schema).createTable(versionedTableName(table, version), build);
    },
  };
}

/** The views readers query, which always show the active version: `schema.<table>`. */
export function readModelViews<Tables extends string>(
  projection: Pick<ProjectionDefinition<DomainEvent, Tables>, 'tables'>,
  schema: string,
): TableNames<Tables> {
  const names = {} as Record<Tables, string>;
  for (const table of projection.tables) names[table] = `${schema}.${table}`;
  return names;
}
