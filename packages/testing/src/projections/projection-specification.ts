import { deepStrictEqual } from 'node:assert/strict';
import {
  uuidV7,
  type DomainEvent,
  type EventEnvelope,
  type EventMetadata,
  type UpcasterChain,
} from '@tributary/core';
import {
  readModelViews,
  type AnyProjection,
  type ProjectionDefinition,
  type TableNames,
} from '@tributary/projections';
import type { Knex } from 'knex';
import { InMemoryKafkaLog } from '../log/in-memory-kafka-log.js';
import { recordOf } from './in-memory-relay.js';
import { InMemoryProjectionRuntime } from './in-memory-projection-runtime.js';

/** The envelope fields of a given event other than its type and data. */
export interface GivenEventFields {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Assigned per aggregate (1, 2, …) when omitted. */
  readonly aggregateVersion?: number;
  readonly schemaVersion?: number;
  readonly metadata?: EventMetadata;
  readonly eventId?: string;
  readonly occurredAt?: string;
}

/**
 * An event for {@link projectionSpec}, typed by the projection's events `E`: its `type` must
 * be one of theirs and its `data` that type's payload, so a misspelt event type or payload
 * key fails to compile instead of passing silently.
 */
export type GivenProjectedEvent<E extends DomainEvent = DomainEvent> =
  E extends DomainEvent<infer Type, infer Data>
    ? GivenEventFields & { readonly type: Type; readonly data: Data }
    : never;

/**
 * A given event checked against nothing (see {@link givenRawEvent}): an older schema
 * version's payload (to test upcasters) or an event type the projection does not declare.
 */
export interface RawGivenEvent extends GivenEventFields {
  readonly raw: true;
  readonly type: string;
  readonly data: unknown;
}

/** What {@link ProjectionScenario.given} accepts for a projection of events `E`. */
export type GivenInput<E extends DomainEvent> =
  GivenProjectedEvent<E> | RawGivenEvent | EventEnvelope;

/** The read side after the given events: knex and the reader views of the projection. */
export interface ReadModel<Tables extends string = string> {
  readonly knex: Knex;
  /** `schema.view` per logical table, always showing the active version. */
  readonly views: TableNames<Tables>;
}

/** One given/then scenario of a projection of events `E`. */
export interface ProjectionScenario<E extends DomainEvent, Tables extends string> {
  /** Adds events (in log order). */
  given(...events: readonly GivenInput<E>[]): ProjectionScenario<E, Tables>;
  /** Projects the given events, then lets `assert` query the read model. */
  then(assert: (readModel: ReadModel<Tables>) => Promise<void> | void): Promise<void>;
  /**
   * Projects the given events and compares a table's rows with `expected` (deep equality,
   * readable diff). Rows are ordered by `orderBy` (default: every column, for a stable order).
   */
  thenRows(
    table: Tables,
    expected: readonly Record<string, unknown>[],
    options?: { orderBy?: string | readonly string[] },
  ): Promise<void>;
}

/** Options of {@link projectionSpec}. */
export interface ProjectionSpecOptions {
  /** The read-model database, shared by the scenarios of a test file (each gets its own schema). */
  readonly knex: Knex;
  readonly upcasters?: UpcasterChain;
  /** Partitions of each topic. Default 1, so the given order is the log order. */
  readonly partitions?: number;
}

let scenarioCounter = 0;

/**
 * Given/when/then for projections: given events (as the capturer would publish them) →
 * then the read model. Each scenario runs the real applier on an in-memory log into its
 * own schemas of the shared database, so scenarios never see each other's rows.
 *
 * @example
 * ```ts
 * const spec = projectionSpec(balances, { knex });
 * await spec.given(event('Account', 'a1', 'AccountOpened', {...}))
 *   .thenRows('account_balances', [{ account_id: 'a1', balance_cents: 0 }]);
 * ```
 */
export function projectionSpec<E extends DomainEvent, Tables extends string>(
  definition: ProjectionDefinition<E, Tables>,
  options: ProjectionSpecOptions,
): {
  given(...events: readonly GivenInput<E>[]): ProjectionScenario<E, Tables>;
} {
  const projection: AnyProjection = definition;
  const scenario = (events: readonly GivenInput<E>[]): ProjectionScenario<E, Tables> => {
    const project = async (): Promise<ReadModel<Tables>> => {
      scenarioCounter += 1;
      const suffix = `${process.pid}_${scenarioCounter}`;
      const config = { schema: `spec_rt_${suffix}`, readModelSchema: `spec_rm_${suffix}` };
      const log = new InMemoryKafkaLog();
      const versions = new Map<string, number>();
      const producer = log.producer();
      await producer.connect();
      for (const given of events) {
        const envelope = toEnvelope(given, versions);
        const topic = `events.${envelope.aggregateType}`;
        if (!log.listTopics().includes(topic))
          log.createTopic(topic, { partitions: options.partitions ?? 1 });
        await producer.send({ topic, messages: [recordOf(envelope)] });
      }
      for (const aggregateType of projection.aggregateTypes) {
        const topic = `events.${aggregateType}`;
        if (!log.listTopics().includes(topic))
          log.createTopic(topic, { partitions: options.partitions ?? 1 });
      }
      const runtime = new InMemoryProjectionRuntime({
        log,
        knex: options.knex,
        projections: [projection],
        config,
        ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
      });
      await runtime.start();
      await runtime.runUntilIdle();
      await runtime.stop();
      return { knex: options.knex, views: readModelViews(projection, config.readModelSchema) };
    };
    return {
      given: (...more) => scenario([...events, ...more]),
      then: async (assert) => {
        await assert(await project());
      },
      thenRows: async (table, expected, rowOptions = {}) => {
        const readModel = await project();
        let query = readModel.knex(readModel.views[table]).select('*');
        const orderBy = rowOptions.orderBy;
        if (orderBy !== undefined)
          query = query.orderBy(typeof orderBy === 'string' ? [orderBy] : [...orderBy]);
        const rows = (await query) as Record<string, unknown>[];
        const actual = orderBy === undefined ? sortRows(rows) : rows;
        deepStrictEqual(
          actual.map((row) => ({ ...row })),
          orderBy === undefined ? sortRows(expected) : expected.map((row) => ({ ...row })),
          `Read model "${table}" of projection "${projection.name}" differs from the expected rows`,
        );
      },
    };
  };
  return { given: (...events) => scenario(events) };
}

const sortRows = (rows: readonly Record<string, unknown>[]): Record<string, unknown>[] =>
  rows.map((row) => ({ ...row })).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

/** The envelope of a given event; versions are assigned per aggregate when omitted. */
export function toEnvelope(
  given: GivenInput<DomainEvent>,
  versions: Map<string, number>,
): EventEnvelope {
  if ('eventType' in given) return given;
  const key = `${given.aggregateType}/${given.aggregateId}`;
  const version = given.aggregateVersion ?? (versions.get(key) ?? 0) + 1;
  versions.set(key, version);
  return {
    eventId: given.eventId ?? uuidV7(),
    aggregateType: given.aggregateType,
    aggregateId: given.aggregateId,
    aggregateVersion: version,
    eventType: given.type,
    schemaVersion: given.schemaVersion ?? 1,
    payload: given.data,
    metadata: given.metadata ?? {},
    occurredAt: given.occurredAt ?? new Date().toISOString(),
  };
}

/**
 * Shorthand for a {@link GivenProjectedEvent}. The event type and payload are inferred as
 * written, and `given` checks them against the projection's events.
 */
export function givenEvent<const Type extends string, const Data>(
  aggregateType: string,
  aggregateId: string,
  type: Type,
  data: Data,
  extra: Omit<GivenEventFields, 'aggregateType' | 'aggregateId'> = {},
): GivenProjectedEvent<DomainEvent<Type, Data>> {
  return { aggregateType, aggregateId, type, data, ...extra };
}

/**
 * A given event that is not type-checked against the projection: an older schema version's
 * payload (what upcasters turn into the current one) or an event type the projection does
 * not declare (to show that it is ignored).
 */
export function givenRawEvent(
  aggregateType: string,
  aggregateId: string,
  type: string,
  data: unknown,
  extra: Omit<GivenEventFields, 'aggregateType' | 'aggregateId'> = {},
): RawGivenEvent {
  return { raw: true, aggregateType, aggregateId, type, data, ...extra };
}
