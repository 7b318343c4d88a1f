import type { DomainEvent, JsonValue } from '@tributary/core';
import type { OrderingPolicy, PoisonPolicy, ProjectedEventOf } from '@tributary/projections';
import { stateTableOf } from './context.js';
import { defineReactor, type ReactorContext, type ReactorDefinition } from './reactor.js';

/** A process manager's context: the reactor context plus its correlation and completion. */
export interface ProcessManagerContext extends ReactorContext {
  /** The correlation id whose state this call reads and writes. */
  readonly correlationId: string;
  /**
   * Ends the process: its state is kept with `completed = true` and later events of the same
   * correlation id are ignored (a late event cannot restart a finished process).
   */
  complete(): void;
}

/**
 * A process manager (saga): a reactor with state per correlation id, read and written in
 * the same transaction as its commands and checkpoint.
 */
export interface ProcessManagerDefinition<E extends DomainEvent, S extends JsonValue> {
  /** Lower-case SQL identifier, as for reactors. */
  readonly name: string;
  /** As for reactors. Default 1. */
  readonly version?: number;
  /** The consumed event types, by aggregate type. */
  readonly events: { readonly [aggregateType: string]: readonly E['type'][] };
  /** The state of a process that has seen no event yet (JSON). */
  initialState(): S;
  /**
   * The process an event belongs to. Default: the event's `correlationId` (carried from
   * command to event to reactor command), else its aggregate id.
   */
  correlate?(event: ProjectedEventOf<E>): string;
  /** Reacts to an event; returns the new state (or nothing to keep it). */
  handle(
    event: ProjectedEventOf<E>,
    state: Readonly<S>,
    context: ProcessManagerContext,
  ): Promise<S | void> | S | void;
  readonly ordering?: OrderingPolicy;
  readonly poison?: PoisonPolicy;
}

/**
 * Defines a process manager; it runs on every reactor runtime as a reactor.
 *
 * @throws InvalidReactorError naming what is wrong.
 */
export function defineProcessManager<E extends DomainEvent, S extends JsonValue>(
  definition: ProcessManagerDefinition<E, S>,
): ReactorDefinition<E> {
  const correlate = (event: ProjectedEventOf<E>): string =>
    definition.correlate === undefined
      ? (event.metadata.correlationId ?? event.aggregateId)
      : definition.correlate(event);
  return defineReactor<E>({
    name: definition.name,
    ...(definition.version === undefined ? {} : { version: definition.version }),
    events: definition.events,
    ...(definition.ordering === undefined ? {} : { ordering: definition.ordering }),
    ...(definition.poison === undefined ? {} : { poison: definition.poison }),
    async handle(event, context) {
      const table = stateTableOf(context);
      const correlationId = correlate(event);
      const { trx } = context;
      const key = { reactor: definition.name, correlation_id: correlationId };
      // Insert-then-lock: two partitions handling the same process at once queue on the row
      // lock instead of both starting from the initial state.
      await trx(table)
        .insert({ ...key, state: JSON.stringify(definition.initialState()) })
        .onConflict(['reactor', 'correlation_id'])
        .ignore();
      const row: { state: S; completed: boolean } = await trx(table)
        .where(key)
        .forUpdate()
        .first('state', 'completed');
      if (row.completed) return;
      let completed = false;
      const state = row.state;
      const next = await definition.handle(event, state, {
        ...context,
        correlationId,
        complete: () => {
          completed = true;
        },
      });
      const saved = JSON.stringify(next === undefined ? state : next);
      await trx(table).where(key).update({ state: saved, completed, updated_at: trx.fn.now() });
    },
  });
}
