import { deepStrictEqual } from 'node:assert/strict';
import {
  commandTypeOf,
  type CommandClass,
  type CommandContext,
  type CommandResult,
  type DomainEvent,
  type JsonValue,
} from '@tributary/core';
import type { ProjectedEvent } from '@tributary/projections';
import {
  createReactorContext,
  DeadlineStore,
  ensureReactorSchema,
  reactorTables,
  reactorVersion,
  resolveReactorRuntimeConfig,
  type ReactorDefinition,
} from '@tributary/reactors';
import type { Knex } from 'knex';
import { createPgliteKnex } from '../projections/pglite.js';
import { toEnvelope, type GivenInput } from '../projections/projection-specification.js';

/** A command the reactor executed, as `{ type, ...props }` plus the ids it carried. */
export interface RecordedCommand {
  readonly type: string;
  readonly props: Record<string, unknown>;
  readonly commandId: string;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
}

/** What the reactor did for the given events. */
export interface ReactorOutcome {
  readonly commands: readonly RecordedCommand[];
  /** Scheduled commands still pending after the last event (cancelled ones are gone). */
  readonly scheduled: readonly {
    readonly type: string;
    readonly props: Record<string, unknown>;
    readonly dueAt: string;
    readonly key: string | null;
  }[];
  readonly effects: readonly { readonly name: string; readonly input: JsonValue }[];
}

/** Options of {@link reactorSpec}. */
export interface ReactorSpecOptions {
  /**
   * Holds process state and scheduled commands (each scenario in its own schema). Default: one
   * embedded PGlite per process, created on first use.
   */
  readonly knex?: Knex;
  /** "Now" for `schedule({ after })`. Default `2026-01-01T00:00:00.000Z`. */
  readonly now?: Date;
  /**
   * What an executed command returns or throws (e.g. a `DomainRuleViolation` to test the
   * reactor's reaction to a refusal). Default: an empty successful result.
   */
  readonly onExecute?: (command: object) => Partial<CommandResult> | void;
  /** What an effect's `run` returns instead of running it. Default `undefined`. */
  readonly onEffect?: (name: string, input: JsonValue) => unknown;
}

/** One given/then scenario of a reactor. */
export interface ReactorScenario<E extends DomainEvent> {
  /** Adds consumed events, in log order. */
  given(...events: readonly GivenInput<E>[]): ReactorScenario<E>;
  /** Runs the handler over the given events and returns what it did. */
  outcome(): Promise<ReactorOutcome>;
  /** Asserts the executed commands, in order (class and properties). */
  thenCommands(expected: readonly object[]): Promise<void>;
  /** Asserts the pending scheduled commands (class, properties, optional due time and key). */
  thenScheduled(
    expected: readonly { command: object; dueAt?: Date | string; key?: string }[],
  ): Promise<void>;
  /** Asserts the external effects (name and input), in order. */
  thenEffects(expected: readonly { name: string; input: JsonValue }[]): Promise<void>;
  /** Asserts that the reactor did nothing at all. */
  thenNothing(): Promise<void>;
}

let shared: Promise<Knex> | undefined;
let scenarios = 0;

const describeCommand = (command: object): { type: string; props: Record<string, unknown> } => ({
  type: commandTypeOf(command.constructor as CommandClass),
  props: { ...(command as Record<string, unknown>) },
});

/** Accepts every command type: a spec checks what the reactor asks for, not the aggregates. */
class AnyCommandClass extends Map<string, CommandClass> {
  override has(): boolean {
    return true;
  }
}

/**
 * Given/then for reactors and process managers, without Kafka: given consumed events → then
 * the commands executed, the commands scheduled and the external effects, recorded through
 * the handler's context (commands are recorded, not executed). Process state and scheduled
 * commands go through the same SQL as in production, on an embedded PostgreSQL.
 *
 * @example
 * ```ts
 * await reactorSpec(reserveStock)
 *   .given(givenEvent('Order', 'o-1', 'OrderConfirmed', { sku: 'A', quantity: 2 }))
 *   .thenCommands([command(ReserveStock, { sku: 'A', quantity: 2, orderId: 'o-1' })]);
 * ```
 */
export function reactorSpec<E extends DomainEvent>(
  reactor: ReactorDefinition<E>,
  options: ReactorSpecOptions = {},
): { given(...events: readonly GivenInput<E>[]): ReactorScenario<E> } {
  const run = async (events: readonly GivenInput<E>[]): Promise<ReactorOutcome> => {
    const knex = options.knex ?? (await (shared ??= createPgliteKnex().then((db) => db.knex)));
    scenarios += 1;
    const config = resolveReactorRuntimeConfig({ schema: `spec_rx_${process.pid}_${scenarios}` });
    await ensureReactorSchema(knex, config);
    const tables = reactorTables(config);
    const deadlines = new DeadlineStore(tables.deadlines, new AnyCommandClass());
    const commands: RecordedCommand[] = [];
    const effects: { name: string; input: JsonValue }[] = [];
    const now = options.now ?? new Date('2026-01-01T00:00:00.000Z');
    const identity = { name: reactor.name, version: reactorVersion(reactor) };
    const versions = new Map<string, number>();
    for (const [offset, given] of events.entries()) {
      const envelope = toEnvelope(given, versions);
      const event: ProjectedEvent = {
        ...envelope,
        position: { topic: `events.${envelope.aggregateType}`, partition: 0, offset },
        commitLsn: undefined,
      };
      await knex.transaction(async (trx) => {
        const context = createReactorContext(identity, event, trx, {
          deadlines,
          stateTable: tables.state,
          clock: () => now,
          commandBus: () => ({
            execute: <S>(command: object, ids: CommandContext) => {
              commands.push({
                ...describeCommand(command),
                commandId: ids.commandId ?? '',
                correlationId: ids.correlationId,
                causationId: ids.causationId,
              });
              const result = options.onExecute?.(command) ?? {};
              return Promise.resolve({
                commandId: ids.commandId ?? '',
                aggregateType: '',
                aggregateId: '',
                events: [],
                state: undefined,
                version: 0,
                attempts: 1,
                consistencyToken: '',
                ...result,
              } as CommandResult<S>);
            },
          }),
          effects: (effect) => {
            effects.push({ name: effect.name, input: effect.input });
            return Promise.resolve(options.onEffect?.(effect.name, effect.input) as never);
          },
        });
        await reactor.handle(event as never, context);
      });
    }
    const pending = (await deadlines.list(knex, reactor.name)).filter(
      (scheduled) => scheduled.status === 'pending',
    );
    return {
      commands,
      scheduled: pending.map((scheduled) => ({
        type: scheduled.commandType,
        props: scheduled.command as Record<string, unknown>,
        dueAt: scheduled.dueAt.toISOString(),
        key: scheduled.key,
      })),
      effects,
    };
  };
  const scenario = (events: readonly GivenInput<E>[]): ReactorScenario<E> => ({
    given: (...more) => scenario([...events, ...more]),
    outcome: () => run(events),
    async thenCommands(expected) {
      const { commands } = await run(events);
      deepStrictEqual(
        commands.map(({ type, props }) => ({ type, props })),
        expected.map(describeCommand),
        `Reactor "${reactor.name}" executed other commands than expected`,
      );
    },
    async thenScheduled(expected) {
      const { scheduled } = await run(events);
      deepStrictEqual(
        scheduled.map((item, index) => ({
          type: item.type,
          props: item.props,
          ...(expected[index]?.dueAt === undefined ? {} : { dueAt: item.dueAt }),
          ...(expected[index]?.key === undefined ? {} : { key: item.key }),
        })),
        expected.map((item) => ({
          ...describeCommand(item.command),
          ...(item.dueAt === undefined ? {} : { dueAt: new Date(item.dueAt).toISOString() }),
          ...(item.key === undefined ? {} : { key: item.key }),
        })),
        `Reactor "${reactor.name}" left other scheduled commands than expected`,
      );
    },
    async thenEffects(expected) {
      const { effects } = await run(events);
      deepStrictEqual(effects, [...expected], `Reactor "${reactor.name}" ran other effects`);
    },
    async thenNothing() {
      const outcome = await run(events);
      deepStrictEqual(
        {
          commands: outcome.commands.length,
          scheduled: outcome.scheduled,
          effects: outcome.effects,
        },
        { commands: 0, scheduled: [], effects: [] },
        `Reactor "${reactor.name}" was expected to do nothing`,
      );
    },
  });
  return { given: (...events) => scenario(events) };
}
