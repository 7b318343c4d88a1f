import type { CommandContext, CommandResult, EventStore, JsonValue } from '@tributary/core';
import type { ProjectedEvent } from '@tributary/projections';
import type { Knex } from 'knex';
import { dueAtOf, type DeadlineStore } from './deadlines.js';
import { ReactorError } from './errors.js';
import { derivedMessageId, reactorIdempotencyKey } from './ids.js';
import type { ExecuteOptions, ReactorContext, ScheduleWhen } from './reactor.js';

/** What executes a reactor's commands: a command bus bound to one transaction. */
export interface TransactionalCommandExecutor {
  execute<S = unknown>(command: object, context: CommandContext): Promise<CommandResult<S>>;
}

/**
 * An event store that can append through the caller's transaction
 * (`PostgresEventStore.withTransaction`): how the reactor's commands commit with its checkpoint.
 */
export interface TransactionalEventStore {
  withTransaction(trx: Knex.Transaction): EventStore;
}

/** One effect outside the database, as {@link ReactorContext.effect} records it. */
export interface RecordedEffect {
  readonly reactor: string;
  readonly name: string;
  readonly input: JsonValue;
  readonly idempotencyKey: string;
}

/** What {@link createReactorContext} needs from the runtime. */
export interface ReactorContextServices {
  /** The command bus over the given transaction. */
  commandBus(trx: Knex.Transaction): TransactionalCommandExecutor;
  readonly deadlines: DeadlineStore;
  /** `schema.table` of process-manager state. */
  readonly stateTable: string;
  readonly clock: () => Date;
  /**
   * Runs (or, in a spec, only records) an external effect. Default: run it.
   */
  readonly effects?: <T>(
    effect: RecordedEffect,
    run: (idempotencyKey: string) => Promise<T> | T,
  ) => Promise<T>;
}

/**
 * The context of one handler call for one event. Counters make the derived ids depend on
 * the order of calls in the handler, so a deterministic handler derives the same ids on
 * every run.
 */
export function createReactorContext(
  reactor: { readonly name: string; readonly version: number },
  event: ProjectedEvent,
  trx: Knex.Transaction,
  services: ReactorContextServices,
): ReactorContext {
  let commands = 0;
  let schedules = 0;
  let effects = 0;
  const idempotencyKey = reactorIdempotencyKey(reactor.name, event.eventId);
  const correlationId = event.metadata.correlationId ?? event.eventId;
  const context: ReactorContext = {
    reactor,
    idempotencyKey,
    trx,
    async execute<S>(command: object, options: ExecuteOptions = {}): Promise<CommandResult<S>> {
      const commandId = derivedMessageId(reactor.name, event.eventId, 'c', commands);
      commands += 1;
      return services.commandBus(trx).execute<S>(command, {
        commandId,
        correlationId,
        causationId: event.eventId,
        metadata: { ...options.metadata, reactor: reactor.name },
      });
    },
    async schedule(command: object, when: ScheduleWhen): Promise<string> {
      const id = derivedMessageId(reactor.name, event.eventId, 's', schedules);
      schedules += 1;
      await services.deadlines.schedule(trx, {
        id,
        reactor: reactor.name,
        key: when.key,
        dueAt: dueAtOf(when, services.clock()),
        command,
        correlationId,
        causationId: event.eventId,
      });
      return id;
    },
    cancel: (idOrKey) => services.deadlines.cancel(trx, reactor.name, idOrKey),
    async effect<T>(
      name: string,
      input: JsonValue,
      run: (key: string) => Promise<T> | T,
    ): Promise<T> {
      const key = `${idempotencyKey}:${name}:${effects}`;
      effects += 1;
      const recorded = { reactor: reactor.name, name, input, idempotencyKey: key };
      return services.effects === undefined ? run(key) : services.effects(recorded, run);
    },
  };
  stateTables.set(context, services.stateTable);
  return context;
}

/** Process-manager state table of each live context (kept off the public context type). */
const stateTables = new WeakMap<ReactorContext, string>();

/** The process-state table behind a context the runtime created. */
export function stateTableOf(context: ReactorContext): string {
  const table = stateTables.get(context);
  if (table === undefined) {
    throw new ReactorError(
      'REACTOR_NOT_IN_HANDLER',
      'A process manager was called with a context its runtime did not create; run it through a reactor runtime or reactorSpec',
    );
  }
  return table;
}
