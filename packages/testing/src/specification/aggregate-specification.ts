import { AssertionError, deepStrictEqual } from 'node:assert';
import { inspect } from 'node:util';
import {
  type AnyAggregate,
  commandTypeOf,
  UnknownCommandError,
  UpcasterChain,
  validateCommand,
  type AggregateDefinition,
  type DomainEvent,
  type EventEnvelope,
} from '@tributary/core';
import { deepFreeze } from '../event-store/in-memory-event-store.js';

/** A specification did not hold. The message shows what was expected and what happened. */
export class SpecificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecificationError';
  }
}

/**
 * `evolve` or `decide` changed the state object it was given instead of returning a new
 * one. Specs freeze state to catch this: the command bus and the stores share state
 * between calls, so a mutation there corrupts it silently.
 */
export class StateMutationError extends SpecificationError {
  constructor(
    readonly fn: 'evolve' | 'decide',
    readonly subject: string,
    cause: unknown,
  ) {
    super(
      `${fn} mutated the state it was given while handling ${subject} (${
        cause instanceof Error ? cause.message : String(cause)
      }). ${fn} must not change its input: return a new state instead, e.g. ` +
        '`{ ...state, items: [...state.items, item] }`.',
    );
    this.name = 'StateMutationError';
  }
}

/** A given event: a domain event, optionally at an older schema version (to test upcasting). */
export type GivenEvent<E extends DomainEvent> =
  E | (DomainEvent & { readonly schemaVersion: number });

/** Options of {@link aggregateSpec}. */
export interface AggregateSpecOptions {
  /** Applied to given events, exactly as the command bus applies them when loading. */
  readonly upcasters?: UpcasterChain;
  /** Validate the command with class-validator first, as the command bus does. Default true. */
  readonly validate?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a constructor of any error class
type ErrorClass = abstract new (...args: any[]) => Error;

/** The outcome of `when`, checked by one of the `then…` methods. */
export interface SpecificationOutcome<S, E extends DomainEvent> {
  /** Asserts the produced events (type and data, in order). */
  then(expected: E | readonly E[]): Promise<void>;
  /** Asserts that no event was produced. */
  thenNothing(): Promise<void>;
  /** Asserts the state after the given events and the produced events. */
  thenState(expected: S): Promise<void>;
  /** Asserts that the command was rejected with an error of `errorClass` (and `check`, if given). */
  thenThrows<T extends Error>(
    errorClass: ErrorClass & (abstract new (...args: never[]) => T),
    check?: (error: T) => void,
  ): Promise<void>;
}

/** The `given` step of a specification. */
export interface SpecificationGiven<S, E extends DomainEvent> {
  when(command: object): SpecificationOutcome<S, E>;
}

/** The entry point of a specification. */
export interface AggregateSpecification<S, E extends DomainEvent> {
  given(events: readonly GivenEvent<E>[]): SpecificationGiven<S, E>;
  /** Same as `given([])`: an aggregate without history. */
  when(command: object): SpecificationOutcome<S, E>;
}

type Outcome<S> =
  | { readonly kind: 'events'; readonly events: readonly DomainEvent[]; readonly state: S }
  | { readonly kind: 'error'; readonly error: unknown };

/**
 * Given/when/then for aggregates: given past events, when a command, then the events it
 * produces, the resulting state, or a typed error. Runs the same validation, upcasting,
 * evolve and decide as the command bus, without any store. State objects are frozen
 * before `decide` and `evolve` see them, so an impure function that mutates state fails the
 * spec instead of passing by accident.
 *
 * @example
 * ```ts
 * await aggregateSpec(Account)
 *   .given([{ type: 'AccountOpened', data: { owner: 'Ann' } }])
 *   .when(command(Deposit, { accountId: 'a-1', amount: 10 }))
 *   .then([{ type: 'MoneyDeposited', data: { amount: 10 } }]);
 * ```
 */
export function aggregateSpec<S, E extends DomainEvent>(
  aggregate: AggregateDefinition<S, E>,
  options: AggregateSpecOptions = {},
): AggregateSpecification<S, E> {
  const given = (history: readonly GivenEvent<E>[]): SpecificationGiven<S, E> => ({
    when: (commandInstance) => outcome(aggregate, options, history, commandInstance),
  });
  return { given, when: (commandInstance) => given([]).when(commandInstance) };
}

function outcome<S, E extends DomainEvent>(
  aggregate: AggregateDefinition<S, E>,
  options: AggregateSpecOptions,
  history: readonly GivenEvent<E>[],
  commandInstance: object,
): SpecificationOutcome<S, E> {
  let run: Promise<Outcome<S>> | undefined;
  const result = (): Promise<Outcome<S>> =>
    (run ??= execute(aggregate, options, history, commandInstance));
  const commandName = commandTypeOf(commandInstance.constructor as never);
  const title = `${aggregate.type} when ${commandName}`;

  const expectEvents = async (): Promise<{ events: readonly DomainEvent[]; state: S }> => {
    const value = await result();
    // A broken aggregate is not a rejected command: say so whatever the spec expected.
    if (value.kind === 'error' && value.error instanceof StateMutationError) throw value.error;
    if (value.kind === 'error') {
      throw new SpecificationError(
        `${title}: expected events, but the command was rejected:\n  ${describeError(value.error)}`,
      );
    }
    return value;
  };

  return {
    async then(expected) {
      const { events } = await expectEvents();
      const expectedList = toList(expected);
      compare(
        `${title}: the produced events differ from the expected ones`,
        events.map(({ type, data }) => ({ type, data })),
        expectedList.map(({ type, data }) => ({ type, data })),
      );
    },
    async thenNothing() {
      const { events } = await expectEvents();
      compare(
        `${title}: expected no events`,
        events.map(({ type, data }) => ({ type, data })),
        [],
      );
    },
    async thenState(expected) {
      const { state } = await expectEvents();
      compare(`${title}: the resulting state differs from the expected one`, state, expected);
    },
    async thenThrows(errorClass, check) {
      const value = await result();
      if (value.kind === 'error' && value.error instanceof StateMutationError) throw value.error;
      if (value.kind === 'events') {
        throw new SpecificationError(
          `${title}: expected ${errorClass.name}, but the command produced:\n${inspect(
            value.events.map(({ type, data }) => ({ type, data })),
            { depth: 6 },
          )}`,
        );
      }
      if (!(value.error instanceof errorClass)) {
        throw new SpecificationError(
          `${title}: expected ${errorClass.name}, but got:\n  ${describeError(value.error)}`,
        );
      }
      check?.(value.error);
    },
  };
}

async function execute<S, E extends DomainEvent>(
  aggregate: AggregateDefinition<S, E>,
  options: AggregateSpecOptions,
  history: readonly GivenEvent<E>[],
  commandInstance: object,
): Promise<Outcome<S>> {
  const upcasters = options.upcasters ?? new UpcasterChain();
  const commandType = commandTypeOf(commandInstance.constructor as never);
  const handling = aggregate.commands.get(commandType);
  try {
    if (handling === undefined || !(commandInstance instanceof handling.commandClass)) {
      throw new UnknownCommandError(commandType);
    }
    if (options.validate ?? true) await validateCommand(commandInstance);
    const aggregateId = handling.aggregateId(commandInstance);
    const envelopes = history.map((event, index) =>
      upcasters.upcast(envelopeOf(aggregate, aggregateId, index + 1, event)),
    );
    const state = foldFrozen(aggregate, envelopes, aggregate.initialState());
    const decided = guardMutation('decide', `command ${commandType}`, () =>
      handling.decide(commandInstance, state),
    );
    const events: readonly DomainEvent[] = Array.isArray(decided)
      ? (decided as readonly DomainEvent[])
      : [decided as DomainEvent];
    const produced = events.map((event, index) =>
      envelopeOf(aggregate, aggregateId, history.length + index + 1, {
        ...event,
        schemaVersion: aggregate.schemaVersionOf(event.type),
      }),
    );
    // Evolving the produced events proves evolve accepts what decide emits.
    return { kind: 'events', events, state: foldFrozen(aggregate, produced, state) };
  } catch (error) {
    return { kind: 'error', error };
  }
}

function foldFrozen<S>(aggregate: AnyAggregate, envelopes: readonly EventEnvelope[], from: S): S {
  let state = deepFreeze(from);
  for (const envelope of envelopes) {
    const event = deepFreeze(envelope);
    state = deepFreeze(
      guardMutation(
        'evolve',
        `event ${event.eventType} (version ${event.aggregateVersion})`,
        () => aggregate.apply(state, event) as S,
      ),
    );
  }
  return state;
}

/** What V8 says when code writes to a frozen object (strict mode, which ES modules are). */
const FROZEN_WRITE =
  /Cannot (add|assign to read only|delete|define) property|object is not extensible|read[- ]only/i;

/** Runs `fn`, turning a write to the frozen state into a {@link StateMutationError}. */
function guardMutation<T>(fn: 'evolve' | 'decide', subject: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TypeError && FROZEN_WRITE.test(error.message)) {
      throw new StateMutationError(fn, subject, error);
    }
    throw error;
  }
}

function envelopeOf(
  aggregate: AnyAggregate,
  aggregateId: string,
  version: number,
  event: DomainEvent & { readonly schemaVersion?: number },
): EventEnvelope {
  return {
    eventId: `00000000-0000-7000-8000-${version.toString(16).padStart(12, '0')}`,
    aggregateType: aggregate.type,
    aggregateId,
    aggregateVersion: version,
    eventType: event.type,
    schemaVersion: event.schemaVersion ?? aggregate.schemaVersionOf(event.type),
    payload: structuredClone(event.data),
    metadata: {},
    occurredAt: new Date(0).toISOString(),
  };
}

function toList<E>(value: E | readonly E[]): readonly E[] {
  return Array.isArray(value) ? (value as readonly E[]) : [value as E];
}

function compare(title: string, actual: unknown, expected: unknown): void {
  try {
    deepStrictEqual(actual, expected);
  } catch (error) {
    if (error instanceof AssertionError) {
      throw new SpecificationError(`${title}.\n${error.message}`);
    }
    throw error;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return inspect(error);
}
