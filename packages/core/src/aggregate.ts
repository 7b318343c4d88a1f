import type { DomainEvent, EventEnvelope } from './envelope.js';
import { UnknownEventTypeError } from './errors.js';
import { assertAggregateType, assertEventType, assertVersion } from './identifiers.js';
import type { CommandClass } from './command.js';
import type { SnapshotPolicy } from './snapshots.js';
import { commandTypeOf } from './command.js';

/**
 * One evolve function per event type of the aggregate. The mapped type makes the compiler
 * reject an aggregate whose `evolve` misses an event type (or names one it does not have).
 */
export type Evolvers<S, E extends DomainEvent> = {
  readonly [K in E['type']]: (
    state: S,
    data: Extract<E, { type: K }>['data'],
    envelope: EventEnvelope<K, Extract<E, { type: K }>['data']>,
  ) => S;
};

/**
 * Decides which events a command produces, from the command and the current state only.
 * It must be pure: no I/O, no clock, no randomness. Ids, versions and timestamps are added
 * by the framework, so the same command on the same state always gives the same events.
 * Throw a {@link DomainRuleViolation} subclass to reject the command.
 */
export type Decide<S, E extends DomainEvent, C> = (
  command: C,
  state: Readonly<S>,
) => E | readonly E[];

/** How an aggregate handles one command class. */
export interface CommandHandling<S, E extends DomainEvent, C> {
  /** Which aggregate instance the command targets. */
  readonly aggregateId: (command: C) => string;
  readonly decide: Decide<S, E, C>;
}

/** Settings of an aggregate besides its state and events. */
export interface AggregateConfig<S, E extends DomainEvent> {
  /** The aggregate type: part of every stream id and of the Kafka topic name. */
  readonly type: string;
  /** The state before the first event. Called once per load, so it may return a fresh object. */
  readonly initialState: () => S;
  /** How each event changes the state; must cover every event type. */
  readonly evolve: Evolvers<S, E>;
  /**
   * The current schema version per event type (default 1). Stored events of older versions
   * are upcast to these before `evolve` sees them.
   */
  readonly schemaVersions?: Partial<Readonly<Record<E['type'], number>>>;
  /**
   * Take snapshots of this aggregate's state (which must then be plain JSON). Off by
   * default: most aggregates have short streams and replaying them is cheaper.
   */
  readonly snapshot?: SnapshotPolicy;
}

/** A complete aggregate definition: configuration plus the commands it handles. */
export interface AggregateDefinition<S = unknown, E extends DomainEvent = DomainEvent> {
  readonly type: string;
  readonly initialState: () => S;
  readonly evolve: Evolvers<S, E>;
  /** Every event type of the aggregate (the keys of `evolve`). */
  readonly eventTypes: readonly E['type'][];
  /** The current schema version of `eventType` (1 unless configured). */
  schemaVersionOf(eventType: string): number;
  /** Snapshot settings, if snapshots are enabled. */
  readonly snapshot: SnapshotPolicy | undefined;
  /** The commands this aggregate handles, by command type name. */
  readonly commands: ReadonlyMap<string, RegisteredCommand<S, E>>;
  /**
   * Applies one stored event to the state. Throws {@link UnknownEventTypeError} for a type
   * the aggregate does not declare, rather than silently ignoring data.
   */
  apply(state: S, envelope: EventEnvelope): S;
  /** Folds a sequence of stored events over the initial state (or over `from`). */
  fold(envelopes: Iterable<EventEnvelope>, from?: S): S;
  /** Returns a definition that also handles `commandClass`. */
  handles<C extends object>(
    commandClass: CommandClass<C>,
    handling: CommandHandling<S, E, C>,
  ): AggregateDefinition<S, E>;
}

/** A command class bound to its handling, as stored in {@link AggregateDefinition.commands}. */
export interface RegisteredCommand<S, E extends DomainEvent> {
  readonly commandType: string;
  readonly commandClass: CommandClass<object>;
  readonly aggregateId: (command: object) => string;
  readonly decide: (command: object, state: Readonly<S>) => E | readonly E[];
}

/**
 * Defines an aggregate: its type, initial state and evolve functions. Add commands with
 * `.handles(CommandClass, { aggregateId, decide })`.
 *
 * @example
 * ```ts
 * type CounterEvent = DomainEvent<'Incremented', { by: number }>;
 * class Increment { @IsString() id!: string; @IsInt() by!: number; }
 * const Counter = defineAggregate<{ value: number }, CounterEvent>({
 *   type: 'Counter',
 *   initialState: () => ({ value: 0 }),
 *   evolve: { Incremented: (state, { by }) => ({ value: state.value + by }) },
 * }).handles(Increment, {
 *   aggregateId: (command) => command.id,
 *   decide: (command) => ({ type: 'Incremented', data: { by: command.by } }),
 * });
 * ```
 */
export function defineAggregate<S, E extends DomainEvent>(
  config: AggregateConfig<S, E>,
): AggregateDefinition<S, E> {
  assertAggregateType(config.type);
  const eventTypes = Object.keys(config.evolve) as E['type'][];
  for (const eventType of eventTypes) assertEventType(eventType);
  const schemaVersions = new Map<string, number>();
  for (const [eventType, version] of Object.entries(config.schemaVersions ?? {})) {
    if (!eventTypes.includes(eventType)) {
      throw new UnknownEventTypeError(`Aggregate ${config.type} (schemaVersions)`, eventType);
    }
    assertVersion(`schema version of ${eventType}`, version, 1);
    schemaVersions.set(eventType, version);
  }
  return build(config, eventTypes, schemaVersions, new Map());
}

function build<S, E extends DomainEvent>(
  config: AggregateConfig<S, E>,
  eventTypes: readonly E['type'][],
  schemaVersions: ReadonlyMap<string, number>,
  commands: ReadonlyMap<string, RegisteredCommand<S, E>>,
): AggregateDefinition<S, E> {
  const evolvers = config.evolve as unknown as Record<
    string,
    ((state: S, data: unknown, envelope: EventEnvelope) => S) | undefined
  >;
  const definition: AggregateDefinition<S, E> = {
    type: config.type,
    initialState: config.initialState,
    evolve: config.evolve,
    eventTypes,
    commands,
    snapshot: config.snapshot,
    schemaVersionOf: (eventType) => schemaVersions.get(eventType) ?? 1,
    apply(state, envelope) {
      const evolve = Object.hasOwn(evolvers, envelope.eventType)
        ? evolvers[envelope.eventType]
        : undefined;
      if (evolve === undefined)
        throw new UnknownEventTypeError(`Aggregate ${config.type}`, envelope.eventType);
      return evolve(state, envelope.payload, envelope);
    },
    fold(envelopes, from) {
      let state = from ?? config.initialState();
      for (const envelope of envelopes) state = definition.apply(state, envelope);
      return state;
    },
    handles(commandClass, handling) {
      const commandType = commandTypeOf(commandClass);
      if (commands.has(commandType)) {
        throw new Error(`Aggregate ${config.type} already handles command ${commandType}`);
      }
      const next = new Map(commands);
      next.set(commandType, {
        commandType,
        commandClass: commandClass,
        aggregateId: handling.aggregateId as (command: object) => string,
        decide: handling.decide as (command: object, state: Readonly<S>) => E | readonly E[],
      });
      return build(config, eventTypes, schemaVersions, next);
    },
  };
  return definition;
}

/** Any aggregate definition, whatever its state and event types (for registries and buses). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- evolve/decide are contravariant in S and E
export type AnyAggregate = AggregateDefinition<any, any>;
