import {
  assertAggregateType,
  assertEventType,
  isTributaryError,
  SQL_IDENTIFIER_PATTERN,
  type CommandResult,
  type DomainEvent,
  type JsonValue,
} from '@tributary/core';
import type { OrderingPolicy, PoisonPolicy, ProjectedEventOf } from '@tributary/projections';
import type { Knex } from 'knex';
import { InvalidReactorError } from './errors.js';

/** When a scheduled command falls due: at a moment, or after a delay from now. */
export type ScheduleWhen =
  | { readonly at: Date | string; readonly key?: string }
  | { readonly after: number; readonly key?: string };

/** Options of {@link ReactorContext.execute}. */
export interface ExecuteOptions {
  /** Application metadata copied into the new events (next to the tracing ids). */
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/**
 * What a reactor handler works with besides the event. Everything it does through the
 * context (commands, scheduled commands, process state) happens in the transaction that
 * moves the reactor's checkpoint past the event: it all commits together, or not at all.
 */
export interface ReactorContext {
  /** Name and version of the reactor. */
  readonly reactor: { readonly name: string; readonly version: number };
  /**
   * Stable per (reactor, consumed event): the same on every redelivery, retry and replay.
   * Pass it to external systems (HTTP `Idempotency-Key`, e-mail provider ids) so an effect
   * outside the database is applied once even when the handler runs again.
   */
  readonly idempotencyKey: string;
  /**
   * The reactor's database transaction (the one holding its checkpoint). Use it for any
   * extra row the service keeps next to its events, so it commits with them.
   */
  readonly trx: Knex.Transaction;
  /**
   * Executes a command on the service's own command bus, inside the reactor's transaction.
   * Its command id is derived from (reactor name, consumed event id, index of this call in
   * the handler), so running the handler again appends nothing new; the new events carry
   * the consumed event's correlation id and, as `commandCausationId`, its event id.
   */
  execute<S = unknown>(command: object, options?: ExecuteOptions): Promise<CommandResult<S>>;
  /**
   * Stores a command to be executed once after it falls due (a deadline), in the same
   * transaction. Returns its id (derived like command ids, so a replay stores nothing new).
   * With a `key`, at most one pending command per (reactor, key): scheduling again replaces
   * the pending one.
   */
  schedule(command: object, when: ScheduleWhen): Promise<string>;
  /** Cancels a pending scheduled command by id or key. Resolves true when one was pending. */
  cancel(idOrKey: string): Promise<boolean>;
  /**
   * Runs an effect outside the database with its own idempotency key
   * (`<idempotencyKey>:<name>:<index>`), and records it (the in-memory `reactorSpec`
   * lists these calls instead of running them). A failure fails the handler: the batch is
   * retried, then the poison policy applies — give `run` the key so the external system
   * applies a repeated call once.
   */
  effect<T>(
    name: string,
    input: JsonValue,
    run: (idempotencyKey: string) => Promise<T> | T,
  ): Promise<T>;
}

/** Reacts to one consumed event. */
export type ReactorHandler<Event> = {
  handle(event: Event, context: ReactorContext): Promise<void> | void;
}['handle'];

/**
 * A reactor: which events it consumes and what it does with them. Events arrive exactly as
 * projection handlers get them (envelope + upcast payload + position).
 */
export interface ReactorDefinition<E extends DomainEvent = DomainEvent> {
  /** Lower-case SQL identifier; names the consumer group, checkpoints, command ids and keys. */
  readonly name: string;
  /**
   * Bump it when the handler changes meaning: the new version reads its topics again from
   * the earliest offset. Command ids do not contain the version, so what the old version
   * already did is not done again. Default 1.
   */
  readonly version?: number;
  /** The consumed event types, by aggregate type (the topic `<prefix>.<AggregateType>`). */
  readonly events: { readonly [aggregateType: string]: readonly E['type'][] };
  /** Reacts to one event (any of {@link events}). */
  readonly handle: ReactorHandler<ProjectedEventOf<E>>;
  /** Overrides the runtime's ordering policy (per aggregate, as for projections). */
  readonly ordering?: OrderingPolicy;
  /** Overrides the runtime's poison-event policy. */
  readonly poison?: PoisonPolicy;
}

/** Any reactor, whatever its events. */
export type AnyReactor = ReactorDefinition<DomainEvent>;

/**
 * Validates a reactor and returns it, typed.
 *
 * @example
 * ```ts
 * const reserveStock = defineReactor<OrderEvent>({
 *   name: 'reserve_stock',
 *   events: { Order: ['OrderConfirmed'] },
 *   async handle(event, ctx) {
 *     await ctx.execute(command(ReserveStock, { orderId: event.aggregateId, ... }));
 *   },
 * });
 * ```
 *
 * @throws InvalidReactorError naming what is wrong.
 */
export function defineReactor<E extends DomainEvent>(
  definition: ReactorDefinition<E>,
): ReactorDefinition<E> {
  validateReactor(definition);
  return definition;
}

/**
 * Checks a reactor (also one built as a class) without changing it.
 *
 * @throws InvalidReactorError naming what is wrong.
 */
export function validateReactor(reactor: AnyReactor): void {
  const name = String(reactor.name);
  const fail = (reason: string): never => {
    throw new InvalidReactorError(name, reason);
  };
  if (!SQL_IDENTIFIER_PATTERN.test(name)) fail(`name must match ${SQL_IDENTIFIER_PATTERN.source}`);
  const version = reactor.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1)
    fail(`version must be a positive integer, got ${String(reactor.version)}`);
  if (typeof reactor.handle !== 'function') fail('handle is not a function');
  const aggregateTypes = Object.keys(reactor.events);
  if (aggregateTypes.length === 0)
    fail('events must name at least one aggregate type, e.g. { Order: ["OrderConfirmed"] }');
  const seen = new Set<string>();
  for (const aggregateType of aggregateTypes) {
    guard(() => assertAggregateType(aggregateType), fail);
    const listed: unknown = reactor.events[aggregateType];
    const types: readonly string[] = Array.isArray(listed) ? (listed as string[]) : [];
    if (types.length === 0) fail(`events.${aggregateType} must list at least one event type`);
    for (const eventType of types) {
      guard(() => assertEventType(eventType), fail);
      if (seen.has(eventType))
        fail(`event type "${eventType}" is listed twice (event types must be unique)`);
      seen.add(eventType);
    }
  }
}

function guard(check: () => void, fail: (reason: string) => never): void {
  try {
    check();
  } catch (error) {
    fail(isTributaryError(error) ? error.message : String(error));
  }
}

/** The version of a reactor (1 when not given). */
export function reactorVersion(reactor: AnyReactor): number {
  return reactor.version ?? 1;
}
