/**
 * The SQL of the PostgreSQL event store and the mapping between its rows and envelopes:
 * one statement per append and one per read, with their inputs and outputs.
 */
import type {
  AppendResult,
  EventEnvelope,
  ExpectedVersion,
  PreparedEvent,
  StreamRef,
} from '@tributary/core';

/** A row of the read statement: the current version, and one event or none. */
export interface EventRow extends Record<string, unknown> {
  current_version: number;
  event_id: string | null;
  aggregate_version: number | null;
  event_type: string | null;
  schema_version: number | null;
  payload: unknown;
  metadata: Record<string, never> | null;
  occurred_at: Date | null;
}

/** An event id of the append that is already stored, and where. */
export interface KnownEvent {
  readonly event_id: string;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly aggregate_version: number;
}

/** A command id of the append that is already recorded, and where its events are. */
export interface KnownCommand {
  readonly command_id: string;
  readonly aggregate_type: string;
  readonly aggregate_id: string;
  readonly from_version: number;
  readonly to_version: number;
}

/** The append statement's one row: versions before the append, rows inserted, ids known. */
export interface AppendRow extends Record<string, unknown> {
  versions: { s: number; version: number }[];
  inserted: number;
  known: KnownEvent[];
  known_commands: KnownCommand[];
}

/** One stream of an append, validated and prepared, with its position in the append. */
export interface StreamPlan {
  readonly index: number;
  readonly stream: StreamRef;
  readonly expected: ExpectedVersion;
  readonly events: readonly PreparedEvent[];
  readonly commandId?: string | undefined;
}

const UNIQUE_VIOLATION = '23505';

/** Whether a stream at `actual` satisfies `expected`. */
export function expectationHolds(expected: ExpectedVersion, actual: number): boolean {
  if (expected === 'any') return true;
  return (expected === 'no-stream' ? 0 : expected) === actual;
}

/** SQLSTATE 23505: the version constraint or the event id clashed with another writer. */
export function isUniqueViolation(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === UNIQUE_VIOLATION
  );
}

/** The append's events as the JSON rows of the append statement's one parameter. */
export function toInputRows(plans: readonly StreamPlan[]): unknown[] {
  return plans.flatMap((plan) => {
    const expected =
      plan.expected === 'any' ? null : plan.expected === 'no-stream' ? 0 : plan.expected;
    return plan.events.map((event, ord) => ({
      s: plan.index,
      ord: ord + 1,
      aggregate_type: plan.stream.aggregateType,
      aggregate_id: plan.stream.aggregateId,
      expected,
      event_id: event.eventId,
      event_type: event.eventType,
      schema_version: event.schemaVersion,
      payload: event.payload,
      metadata: event.metadata,
      occurred_at: event.occurredAt,
    }));
  });
}

/** The command ids of the append, as the JSON rows of the append statement's second parameter. */
export function toCommandRows(plans: readonly StreamPlan[]): unknown[] {
  return plans
    .filter((plan) => plan.commandId !== undefined)
    .map((plan) => ({
      s: plan.index,
      command_id: plan.commandId,
      aggregate_type: plan.stream.aggregateType,
      aggregate_id: plan.stream.aggregateId,
      expected: plan.expected === 'any' ? null : plan.expected === 'no-stream' ? 0 : plan.expected,
      event_count: plan.events.length,
    }));
}

/** The result of a stream appended on top of `previousVersion`. */
export function appendedResult(plan: StreamPlan, previousVersion: number): AppendResult {
  const stream = { aggregateType: plan.stream.aggregateType, aggregateId: plan.stream.aggregateId };
  const events: EventEnvelope[] = plan.events.map((event, index) => ({
    eventId: event.eventId,
    ...stream,
    aggregateVersion: previousVersion + index + 1,
    eventType: event.eventType,
    schemaVersion: event.schemaVersion,
    payload: event.payload,
    metadata: event.metadata,
    occurredAt: new Date(event.occurredAt).toISOString(),
  }));
  return {
    status: 'appended',
    stream,
    nextExpectedVersion: previousVersion + events.length,
    events,
  };
}

/** A stored event of `stream` as an envelope. */
export function toEnvelope(stream: StreamRef, row: EventRow): EventEnvelope {
  return {
    eventId: row.event_id as string,
    aggregateType: stream.aggregateType,
    aggregateId: stream.aggregateId,
    aggregateVersion: row.aggregate_version as number,
    eventType: row.event_type as string,
    schemaVersion: row.schema_version as number,
    payload: row.payload,
    metadata: row.metadata ?? {},
    occurredAt: (row.occurred_at as Date).toISOString(),
  };
}

/**
 * One statement for an append to one or more streams. It reads each stream's version,
 * finds already-stored event ids and already-recorded command ids, and inserts only when
 * none is known and every expectation holds, so it never writes part of an append. The
 * command rows are inserted by the same statement as the events: both commit or neither.
 * Inputs travel as two JSON parameters (events, commands), which keeps the statement
 * identical for pg and knex.
 */
export function appendStatement(events: string, commands: string): string {
  return `
    with input as (
      select * from jsonb_to_recordset($1::jsonb) as t(
        s int, ord int, aggregate_type text, aggregate_id text, expected int,
        event_id uuid, event_type text, schema_version int, payload jsonb, metadata jsonb,
        occurred_at timestamptz)
    ),
    command_input as (
      select * from jsonb_to_recordset($2::jsonb) as c(
        s int, command_id text, aggregate_type text, aggregate_id text, expected int,
        event_count int)
    ),
    streams as (
      select distinct s, aggregate_type, aggregate_id, expected from input
      union
      select s, aggregate_type, aggregate_id, expected from command_input
    ),
    current_streams as (
      select st.s, st.expected,
        coalesce((select max(e.aggregate_version) from ${events} e
                  where e.aggregate_type = st.aggregate_type and e.aggregate_id = st.aggregate_id), 0)::int as version
      from streams st
    ),
    known as (
      select e.event_id, e.aggregate_type, e.aggregate_id, e.aggregate_version
      from ${events} e where e.event_id in (select event_id from input)
    ),
    known_commands as (
      select k.command_id, k.aggregate_type, k.aggregate_id, k.from_version, k.to_version
      from ${commands} k where k.command_id in (select command_id from command_input)
    ),
    writable as (
      select 1 where not exists (select 1 from known)
        and not exists (select 1 from known_commands)
        and not exists (select 1 from current_streams x where x.expected is not null and x.expected <> x.version)
    ),
    inserted as (
      insert into ${events}
        (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, schema_version, payload, metadata, occurred_at)
      select i.event_id, i.aggregate_type, i.aggregate_id, c.version + i.ord, i.event_type, i.schema_version,
             i.payload, i.metadata, i.occurred_at
      from input i join current_streams c on c.s = i.s
      where exists (select 1 from writable)
      order by i.s, i.ord
      returning event_id
    ),
    inserted_commands as (
      insert into ${commands} (command_id, aggregate_type, aggregate_id, from_version, to_version)
      select ci.command_id, ci.aggregate_type, ci.aggregate_id, c.version + 1, c.version + ci.event_count
      from command_input ci join current_streams c on c.s = ci.s
      where exists (select 1 from writable)
      returning command_id
    )
    select
      (select jsonb_agg(jsonb_build_object('s', s, 'version', version)) from current_streams) as versions,
      (select count(*) from inserted)::int as inserted,
      (select coalesce(jsonb_agg(jsonb_build_object(
          'event_id', event_id, 'aggregate_type', aggregate_type, 'aggregate_id', aggregate_id,
          'aggregate_version', aggregate_version)), '[]'::jsonb) from known) as known,
      (select coalesce(jsonb_agg(jsonb_build_object(
          'command_id', command_id, 'aggregate_type', aggregate_type, 'aggregate_id', aggregate_id,
          'from_version', from_version, 'to_version', to_version)), '[]'::jsonb)
       from known_commands) as known_commands,
      (select count(*) from inserted_commands)::int as inserted_commands`;
}

/** The shape of a single-stream append statement: one event or several, with or without a command id. */
export interface SingleStreamShape {
  /** Several events: the per-event columns travel as arrays and are unnested in order. */
  readonly multi: boolean;
  /** The append carries a command id, recorded by the same statement. */
  readonly command: boolean;
  /**
   * The expected version is exact (a number or `'no-stream'`): the versions follow from it,
   * so the statement is a top-level INSERT that returns no row at all, only its row count
   * (see {@link singleStreamAppendStatement}).
   */
  readonly exact: boolean;
}

/**
 * A row of {@link singleStreamAppendStatement} for `'any'`: one per inserted event
 * (`aggregate_version`, or with a command id one row with the last version).
 */
export interface SingleStreamRow extends Record<string, unknown> {
  aggregate_version: number | null;
}

/**
 * The statement of the single-stream fast path: one stream, one round trip, and nothing but
 * the index probes a plain INSERT makes plus one backward probe of the stream's version
 * index (the stream's current version). It inserts only when the expectation holds (`$4`
 * null for `'any'`); the primary key and the version constraint reject a known event id or
 * a writer that got there first (SQLSTATE 23505), and the commands table's primary key a
 * recorded command id: the statement then commits nothing. Every outcome but "inserted" is
 * classified by the full statement ({@link appendStatement}).
 *
 * With an exact expectation ({@link SingleStreamShape.exact}) it is a top-level INSERT
 * without `RETURNING`: no RowDescription and no DataRow, so the client does no more
 * protocol work than for a plain INSERT (a result row cost ~90 µs of client CPU per append
 * in place). Its row count says all: the append's events (or, with a command id, the one
 * command row) when the expectation held, 0 when it did not. `'any'` returns the inserted
 * versions, which nothing else tells.
 *
 * Parameters: `$1` event id(s), `$2` aggregate type, `$3` aggregate id, `$4` expected
 * version, `$5` event type(s), `$6` schema version(s), `$7` payload(s) as JSON text, `$8`
 * metadata as JSON text, `$9` occurred-at(s), and `$10` the command id when there is one.
 * Several events travel as array literals and are inserted in their order.
 */
export function singleStreamAppendStatement(
  events: string,
  commands: string,
  shape: SingleStreamShape,
): string {
  const columns = `(event_id, aggregate_type, aggregate_id, aggregate_version, event_type, schema_version, payload, metadata, occurred_at)`;
  const expectation = shape.exact
    ? `v.version = $4::int`
    : `$4::int is null or v.version = $4::int`;
  // Without a command row to fill, an exact append needs nothing back from its insert.
  const returning = shape.exact && !shape.command ? '' : 'returning aggregate_version';
  const insert = shape.multi
    ? `insert into ${events} ${columns}
       select e.event_id, $2::text, $3::text, v.version + e.ord::int, e.event_type, e.schema_version,
              e.payload, e.metadata, e.occurred_at
       from v, unnest($1::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[], $9::timestamptz[])
              with ordinality as e(event_id, event_type, schema_version, payload, metadata, occurred_at, ord)
       where ${expectation}
       order by e.ord
       ${returning}`
    : `insert into ${events} ${columns}
       select $1::uuid, $2::text, $3::text, v.version + 1, $5::text, $6::int, $7::jsonb, $8::jsonb,
              $9::timestamptz
       from v
       where ${expectation}
       ${returning}`;
  // The command row goes in after the events, in the same statement: both commit or neither.
  const command = `insert into ${commands} (command_id, aggregate_type, aggregate_id, from_version, to_version)
       select $10::text, $2::text, $3::text, min(aggregate_version), max(aggregate_version)
       from inserted having count(*) > 0`;
  const stream = `v as (
      select coalesce(max(aggregate_version), 0)::int as version from ${events}
      where aggregate_type = $2::text and aggregate_id = $3::text
    )`;
  if (shape.exact) {
    return shape.command
      ? `with ${stream}, inserted as (${insert}) ${command}`
      : `with ${stream} ${insert}`;
  }
  // PostgreSQL runs a data-modifying CTE to completion whether or not the query reads it.
  return shape.command
    ? `with ${stream}, inserted as (${insert}), written as (${command} returning to_version)
       select to_version as aggregate_version from written`
    : `with ${stream}, written as (${insert}) select aggregate_version from written`;
}

/** The parameters of {@link singleStreamAppendStatement} for one stream's append. */
export function singleStreamParams(plan: StreamPlan): unknown[] {
  const expected =
    plan.expected === 'any' ? null : plan.expected === 'no-stream' ? 0 : plan.expected;
  const { aggregateType, aggregateId } = plan.stream;
  const [only] = plan.events;
  // The payload and metadata go as the JSON text validation made (no second serialization);
  // several events go as array literals, written here so pg and knex bind the same text.
  const params: unknown[] =
    plan.events.length === 1 && only !== undefined
      ? [
          only.eventId,
          aggregateType,
          aggregateId,
          expected,
          only.eventType,
          only.schemaVersion,
          only.payloadJson,
          only.metadataJson,
          only.occurredAt,
        ]
      : [
          arrayLiteral(plan.events.map((event) => event.eventId)),
          aggregateType,
          aggregateId,
          expected,
          arrayLiteral(plan.events.map((event) => event.eventType)),
          arrayLiteral(plan.events.map((event) => String(event.schemaVersion))),
          arrayLiteral(plan.events.map((event) => event.payloadJson)),
          arrayLiteral(plan.events.map((event) => event.metadataJson)),
          arrayLiteral(plan.events.map((event) => event.occurredAt)),
        ];
  if (plan.commandId !== undefined) params.push(plan.commandId);
  return params;
}

/** A PostgreSQL array literal of `values`, each quoted (so `NULL` and commas stay text). */
function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((value) => `"${value.replace(/[\\"]/g, '\\$&')}"`).join(',')}}`;
}

/** One statement that finds a recorded command. */
export function findCommandStatement(commands: string): string {
  return `select command_id, aggregate_type, aggregate_id, from_version, to_version
          from ${commands} where command_id = $1`;
}

/**
 * One statement for a read: the stream's current version, joined with its events from
 * `fromVersion` on (none when the stream is empty or the range is), so even an empty read
 * reports the version.
 */
export function readStatement(events: string): string {
  return `
    select v.current_version, e.event_id, e.aggregate_version, e.event_type, e.schema_version,
           e.payload, e.metadata, e.occurred_at
    from (select coalesce(max(aggregate_version), 0)::int as current_version
          from ${events} where aggregate_type = $1 and aggregate_id = $2) v
    left join lateral (
      select event_id, aggregate_version, event_type, schema_version, payload, metadata, occurred_at
      from ${events}
      where aggregate_type = $1 and aggregate_id = $2 and aggregate_version >= $3
      order by aggregate_version
      limit $4
    ) e on true
    order by e.aggregate_version`;
}
