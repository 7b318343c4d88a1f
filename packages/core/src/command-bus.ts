/**
 * The command bus. Over 400 lines because one command's cycle (load, idempotency look-up,
 * decide, fold, append, replay of a recorded command, snapshot, instrumentation) is kept
 * in one file, in the order it runs.
 */
import type { AggregateDefinition, AnyAggregate, RegisteredCommand } from './aggregate.js';
import { commandTypeOf, validateCommand } from './command.js';
import type { DomainEvent, EventEnvelope, EventMetadata, JsonValue, NewEvent } from './envelope.js';
import type { EventStore, ProcessedCommand } from './event-store.js';
import { processedCommandOf } from './event-store.js';
import { ConcurrencyError, isTributaryError, UnknownCommandError } from './errors.js';
import { uuidV7, type Clock, type IdGenerator, systemClock } from './ids.js';
import type { Instrumentation } from './instrumentation.js';
import { retry, type RetryOptions } from './retry.js';
import { UpcasterChain } from './upcasting.js';
import { crossesSnapshotBoundary, type SnapshotStore } from './snapshots.js';
import { assertJsonPayload } from './payload.js';
import { encodeConsistencyToken } from './consistency.js';
import { noopTracer, type TraceSpan, type Tracer } from './tracing.js';

/** Instrumentation events emitted by the core. */
export interface CoreInstrumentationEvents {
  /** A command was decided and its events appended (or it produced none). */
  'command.handled': {
    readonly commandType: string;
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly eventCount: number;
    readonly version: number;
    readonly attempts: number;
    readonly durationMs: number;
    readonly correlationId: string;
  };
  /** A command failed for good (validation, business rule, exhausted retries…). */
  'command.failed': {
    readonly commandType: string;
    readonly code: string;
    readonly message: string;
    readonly durationMs: number;
  };
  /** A snapshot could not be saved (the command itself succeeded). */
  'snapshot.failed': {
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly version: number;
    readonly message: string;
  };
  /** A concurrency conflict: the aggregate is reloaded and the command decided again. */
  'command.retried': {
    readonly commandType: string;
    readonly aggregateType: string;
    readonly aggregateId: string;
    readonly attempt: number;
    readonly delayMs: number;
  };
}

/** Per-call context of a command: tracing ids and metadata copied into every event. */
export interface CommandContext {
  /**
   * Id of this command and its idempotency key; becomes the events' `causationId`. When
   * given, the store records it with the command's events in the same write, and executing
   * the same id again (a client retry after a lost reply, a racing duplicate, after a
   * restart) appends nothing and returns the original result. Default: a new UUID v7, not
   * recorded (nobody can retry an id they never saw).
   */
  readonly commandId?: string;
  /** Ties together all messages of one request. Default: the command id. */
  readonly correlationId?: string;
  /**
   * What caused this command (e.g. the event a process manager reacted to). Stored in the
   * events' metadata as `commandCausationId`; their `causationId` is the command id.
   */
  readonly causationId?: string;
  /**
   * W3C trace context of the caller. With a {@link CommandBusOptions.tracer}, the command's
   * span is its child and the events carry the append span's context instead.
   */
  readonly traceparent?: string;
  /** Application metadata (user id, tenant…) copied into every event. */
  readonly metadata?: Readonly<Record<string, JsonValue>>;
}

/** The outcome of a handled command. */
export interface CommandResult<S = unknown> {
  readonly commandId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The events appended by this command (empty when `decide` returned none). */
  readonly events: readonly EventEnvelope[];
  /** The aggregate state after the events. */
  readonly state: S;
  /** The stream version after the events. */
  readonly version: number;
  /** How many times the command was decided (> 1 after concurrency conflicts). */
  readonly attempts: number;
  /**
   * Read-your-writes across Kafka: names the aggregate version this command left. Pass it
   * to a projection runtime's `waitFor` (e.g. from an HTTP header) to wait until a read
   * model shows the command's effect. See {@link encodeConsistencyToken}.
   */
  readonly consistencyToken: string;
}

/** A loaded aggregate: its state and the version it reflects. */
export interface LoadedAggregate<S> {
  readonly state: S;
  readonly version: number;
}

/** Options of {@link CommandBus}. */
export interface CommandBusOptions {
  readonly eventStore: EventStore;
  /** The aggregates whose commands this bus handles. */
  readonly aggregates: readonly AnyAggregate[];
  /** Applied to every stored event before `evolve`. */
  readonly upcasters?: UpcasterChain;
  /** Where snapshots of aggregates with a `snapshot` policy are loaded from and saved to. */
  readonly snapshots?: SnapshotStore;
  /**
   * Retry on concurrency conflicts (reload, decide, append again). Default: 5 retries,
   * 10 ms initial delay with jitter. Only {@link ConcurrencyError} is retried.
   */
  readonly retry?: RetryOptions;
  /** Validate commands with class-validator before deciding. Default true. */
  readonly validate?: boolean;
  readonly instrumentation?: Instrumentation<CoreInstrumentationEvents>;
  /**
   * Spans `command <type>` and, inside it, `append <aggregate type>`; the append span's
   * `traceparent` is stored in every event's metadata, so capture and the projections
   * continue the trace. Default: none (events keep the caller's `traceparent`, if any).
   */
  readonly tracer?: Tracer;
  readonly idGenerator?: IdGenerator;
  readonly clock?: Clock;
}

/**
 * Handles commands: validate → load (read, upcast, evolve) → decide → append with the
 * loaded version as `expectedVersion`. A concurrency conflict means another writer got
 * there first, so the whole cycle runs again on fresh state, a bounded number of times.
 */
export class CommandBus {
  readonly #store: EventStore;
  readonly #handlers = new Map<
    string,
    { aggregate: AggregateDefinition; command: RegisteredCommand<unknown, DomainEvent> }
  >();
  readonly #upcasters: UpcasterChain;
  readonly #snapshots: SnapshotStore | undefined;
  readonly #retry: RetryOptions;
  readonly #validate: boolean;
  readonly #instrumentation: Instrumentation<CoreInstrumentationEvents> | undefined;
  readonly #idGenerator: IdGenerator;
  readonly #clock: Clock;
  readonly #tracer: Tracer;

  constructor(options: CommandBusOptions) {
    this.#tracer = options.tracer ?? noopTracer;
    this.#store = options.eventStore;
    this.#upcasters = options.upcasters ?? new UpcasterChain();
    this.#snapshots = options.snapshots;
    this.#retry = { retries: 5, initialDelayMs: 10, ...options.retry };
    this.#validate = options.validate ?? true;
    this.#instrumentation = options.instrumentation;
    this.#idGenerator = options.idGenerator ?? uuidV7;
    this.#clock = options.clock ?? systemClock;
    for (const aggregate of options.aggregates as readonly AggregateDefinition[]) {
      for (const [commandType, command] of aggregate.commands) {
        const existing = this.#handlers.get(commandType);
        if (existing !== undefined) {
          throw new Error(
            `Command ${commandType} is handled by both ${existing.aggregate.type} and ${aggregate.type}`,
          );
        }
        this.#handlers.set(commandType, {
          aggregate,
          command: command,
        });
      }
    }
  }

  /**
   * Handles one command.
   *
   * @throws ValidationError when the command breaks its validation rules;
   * UnknownCommandError when no aggregate handles it; the `decide` function's own errors
   * (e.g. a {@link DomainRuleViolation}); RetriesExhaustedError after repeated conflicts.
   */
  async execute<S = unknown>(
    commandInstance: object,
    context: CommandContext = {},
  ): Promise<CommandResult<S>> {
    const commandType = commandTypeOf(commandInstance.constructor as never);
    if (!this.#tracer.enabled) return this.#execute(commandType, commandInstance, context);
    return this.#tracer.inSpan(
      `command ${commandType}`,
      {
        kind: 'internal',
        ...(context.traceparent === undefined ? {} : { parent: context.traceparent }),
        attributes: { 'tributary.command': commandType },
      },
      async (span) => {
        try {
          // The command span becomes the context's parent: the append span is its child
          // even when the SDK has no context manager to carry it across awaits.
          const traced =
            span.traceparent === undefined
              ? context
              : { ...context, traceparent: span.traceparent };
          const result = await this.#execute<S>(commandType, commandInstance, traced);
          span.setAttribute('tributary.aggregate_type', result.aggregateType);
          span.setAttribute('tributary.aggregate_id', result.aggregateId);
          span.setAttribute('tributary.events', result.events.length);
          return result;
        } catch (error) {
          span.recordError(error);
          throw error;
        }
      },
    );
  }

  async #execute<S>(
    commandType: string,
    commandInstance: object,
    context: CommandContext,
  ): Promise<CommandResult<S>> {
    const started = performance.now();
    try {
      const handler = this.#handlers.get(commandType);
      if (handler === undefined || !(commandInstance instanceof handler.command.commandClass)) {
        throw new UnknownCommandError(commandType);
      }
      if (this.#validate) await validateCommand(commandInstance);
      const result = await this.#decideAndAppend(
        handler.aggregate,
        handler.command,
        commandInstance,
        context,
      );
      this.#instrumentation?.emit('command.handled', () => ({
        commandType,
        aggregateType: result.aggregateType,
        aggregateId: result.aggregateId,
        eventCount: result.events.length,
        version: result.version,
        attempts: result.attempts,
        durationMs: performance.now() - started,
        correlationId: context.correlationId ?? result.commandId,
      }));
      const consistencyToken = encodeConsistencyToken([
        {
          aggregateType: result.aggregateType,
          aggregateId: result.aggregateId,
          version: result.version,
        },
      ]);
      return { ...result, consistencyToken } as CommandResult<S>;
    } catch (error) {
      this.#instrumentation?.emit('command.failed', () => ({
        commandType,
        code: isTributaryError(error) ? error.code : 'UNEXPECTED',
        message: error instanceof Error ? error.message : String(error),
        durationMs: performance.now() - started,
      }));
      throw error;
    }
  }

  /**
   * Loads an aggregate: starts from its snapshot when there is a usable one, reads the
   * stream after it, upcasts each event and folds it into state.
   */
  async load<S>(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- evolve is contravariant in the event type
    aggregate: AggregateDefinition<S, any>,
    aggregateId: string,
  ): Promise<LoadedAggregate<S>> {
    const definition = aggregate as AggregateDefinition<S>;
    const stream = { aggregateType: definition.type, aggregateId };
    const snapshot = await this.#usableSnapshot(definition, stream);
    const fromVersion = (snapshot?.aggregateVersion ?? 0) + 1;
    const { events, currentVersion } = await this.#store.readStream(stream, { fromVersion });
    const state = definition.fold(
      events.map((event) => this.#upcasters.upcast(event)),
      snapshot === undefined ? undefined : (structuredClone(snapshot.state) as S),
    );
    return { state, version: currentVersion };
  }

  async #usableSnapshot(
    aggregate: AnyAggregate,
    stream: { aggregateType: string; aggregateId: string },
  ): Promise<{ aggregateVersion: number; state: unknown } | undefined> {
    if (aggregate.snapshot === undefined || this.#snapshots === undefined) return undefined;
    const snapshot = await this.#snapshots.load(stream);
    // A snapshot of an older state shape is ignored rather than trusted: replay is correct.
    if (snapshot === undefined || snapshot.stateVersion !== (aggregate.snapshot.version ?? 1))
      return undefined;
    return snapshot;
  }

  async #maybeSnapshot(
    aggregate: AnyAggregate,
    stream: { aggregateType: string; aggregateId: string },
    fromVersion: number,
    toVersion: number,
    state: unknown,
  ): Promise<void> {
    const policy = aggregate.snapshot;
    if (policy === undefined || this.#snapshots === undefined) return;
    if (!crossesSnapshotBoundary(fromVersion, toVersion, policy.every)) return;
    try {
      assertJsonPayload(state, `snapshot of ${stream.aggregateType}/${stream.aggregateId}`);
      await this.#snapshots.save({
        stream,
        aggregateVersion: toVersion,
        stateVersion: policy.version ?? 1,
        state,
        takenAt: this.#clock().toISOString(),
      });
    } catch (error) {
      // The events are committed; a missing snapshot only makes the next load longer.
      this.#instrumentation?.emit('snapshot.failed', () => ({
        ...stream,
        version: toVersion,
        message: error instanceof Error ? error.message : String(error),
      }));
    }
  }

  async #decideAndAppend(
    aggregate: AggregateDefinition,
    handling: RegisteredCommand<unknown, DomainEvent>,
    commandInstance: object,
    context: CommandContext,
  ): Promise<Omit<CommandResult, 'consistencyToken'>> {
    const aggregateId = handling.aggregateId(commandInstance);
    const commandId = context.commandId ?? this.#idGenerator();
    const metadata: EventMetadata = {
      ...context.metadata,
      correlationId: context.correlationId ?? commandId,
      causationId: commandId,
      // The command's own cause (e.g. the event a process manager reacted to) is kept too,
      // so the causal chain event → command → event can be followed across aggregates.
      ...(context.causationId === undefined ? {} : { commandCausationId: context.causationId }),
      ...(context.traceparent === undefined ? {} : { traceparent: context.traceparent }),
    };
    const stream = { aggregateType: aggregate.type, aggregateId };
    // Only an id the caller gave can be retried by the caller: only those are recorded.
    const idempotencyKey = context.commandId;
    return retry(
      async (attempt) => {
        const loaded = await this.load(aggregate, aggregateId);
        let decided: DomainEvent | readonly DomainEvent[];
        try {
          decided = handling.decide(commandInstance, loaded.state as Readonly<unknown>);
        } catch (error) {
          // A command executed before may be refused by the state it moved the aggregate to
          // (confirm an order twice): a recorded id answers with the original result, not
          // the refusal. Looked up only when the decision fails: a decision that succeeds is
          // appended with the id, and the append itself finds a recorded id (a duplicate,
          // replayed below) in the same statement — one round trip less per command. Looked
          // up after the load, so a first execution committing between the two reads is seen.
          if (idempotencyKey !== undefined) {
            const processed = processedCommandOf(
              stream,
              idempotencyKey,
              await this.#store.findCommand(idempotencyKey),
            );
            if (processed !== undefined) return this.#replay(aggregate, processed, attempt);
          }
          throw error;
        }
        const domainEvents = toEventList(decided);
        if (domainEvents.length === 0) {
          if (idempotencyKey !== undefined) {
            // Recorded too, so a retry does not decide again on a state that moved on.
            const recorded = await this.#store.appendToStream(stream, [], {
              expectedVersion: loaded.version,
              commandId: idempotencyKey,
            });
            if (recorded.status === 'duplicate') {
              return this.#replayRecorded(aggregate, stream, idempotencyKey, attempt);
            }
          }
          return {
            commandId,
            ...stream,
            events: [],
            state: loaded.state,
            version: loaded.version,
            attempts: attempt,
          };
        }
        return this.#inAppendSpan(
          stream,
          domainEvents.length,
          context.traceparent,
          async (traced) => {
            const eventMetadata =
              traced === undefined ? metadata : { ...metadata, traceparent: traced };
            const occurredAt = this.#clock().toISOString();
            const newEvents: NewEvent[] = domainEvents.map((event) => ({
              eventId: this.#idGenerator(),
              type: event.type,
              data: event.data,
              schemaVersion: aggregate.schemaVersionOf(event.type),
              metadata: eventMetadata,
              occurredAt,
            }));
            // The new state is folded BEFORE the append: an evolve that throws on these events
            // fails the command with nothing stored (the stream stays loadable), and nothing
            // can fail after the append commits, so a failure reported to the caller always
            // means "nothing was appended".
            const state = aggregate.fold(
              newEvents.map((event, index) => ({
                eventId: event.eventId as string,
                ...stream,
                aggregateVersion: loaded.version + index + 1,
                eventType: event.type,
                schemaVersion: event.schemaVersion ?? 1,
                payload: event.data,
                metadata: eventMetadata,
                occurredAt,
              })),
              loaded.state,
            );
            const appended = await this.#store.appendToStream(stream, newEvents, {
              expectedVersion: loaded.version,
              ...(idempotencyKey === undefined ? {} : { commandId: idempotencyKey }),
            });
            if (appended.status === 'duplicate') {
              // A racing duplicate of this command committed first: report its result.
              return this.#replayRecorded(aggregate, stream, commandId, attempt);
            }
            await this.#maybeSnapshot(
              aggregate,
              stream,
              loaded.version,
              appended.nextExpectedVersion,
              state,
            );
            return {
              commandId,
              ...stream,
              events: appended.events,
              state,
              version: appended.nextExpectedVersion,
              attempts: attempt,
            };
          },
        );
      },
      {
        ...this.#retry,
        operation: `command ${commandTypeOf(commandInstance.constructor as never)} on ${aggregate.type}/${aggregateId}`,
        isRetriable: (error) =>
          error instanceof ConcurrencyError || isTributaryError(error, 'CONCURRENCY_CONFLICT'),
        onRetry: ({ attempt, delayMs }) => {
          this.#instrumentation?.emit('command.retried', () => ({
            commandType: commandTypeOf(commandInstance.constructor as never),
            ...stream,
            attempt,
            delayMs,
          }));
        },
      },
    );
  }

  /**
   * Runs the append inside an `append <aggregate type>` span and hands it that span's
   * `traceparent` (undefined without a tracer), which the events then carry: capture's
   * publish span links to it and the projections' apply spans are its children.
   */
  async #inAppendSpan<T>(
    stream: { aggregateType: string; aggregateId: string },
    eventCount: number,
    parent: string | undefined,
    append: (traceparent: string | undefined) => Promise<T>,
  ): Promise<T> {
    if (!this.#tracer.enabled) return append(undefined);
    return this.#tracer.inSpan(
      `append ${stream.aggregateType}`,
      {
        kind: 'client',
        ...(parent === undefined ? {} : { parent }),
        attributes: {
          'tributary.aggregate_type': stream.aggregateType,
          'tributary.aggregate_id': stream.aggregateId,
          'tributary.events': eventCount,
        },
      },
      async (span: TraceSpan) => {
        try {
          return await append(span.traceparent);
        } catch (error) {
          span.recordError(error);
          throw error;
        }
      },
    );
  }

  async #replayRecorded(
    aggregate: AggregateDefinition,
    stream: { aggregateType: string; aggregateId: string },
    commandId: string,
    attempt: number,
  ): Promise<Omit<CommandResult, 'consistencyToken'>> {
    const processed = processedCommandOf(
      stream,
      commandId,
      await this.#store.findCommand(commandId),
    );
    if (processed === undefined) {
      throw new Error(
        `the store reported command ${commandId} as a duplicate but has no record of it`,
      );
    }
    return this.#replay(aggregate, processed, attempt);
  }

  /**
   * The original result of a command executed before: its events and the state right after
   * them, read back from the stream (the state folds the stream up to the command's last
   * version, so it is what the first execution returned).
   */
  async #replay(
    aggregate: AggregateDefinition,
    processed: ProcessedCommand,
    attempt: number,
  ): Promise<Omit<CommandResult, 'consistencyToken'>> {
    const { events } =
      processed.toVersion === 0
        ? { events: [] }
        : await this.#store.readStream(processed.stream, { maxCount: processed.toVersion });
    const upcast = events.map((event) => this.#upcasters.upcast(event));
    return {
      commandId: processed.commandId,
      ...processed.stream,
      events: events.filter((event) => event.aggregateVersion >= processed.fromVersion),
      state: aggregate.fold(upcast),
      version: processed.toVersion,
      attempts: attempt,
    };
  }
}

function toEventList(decided: DomainEvent | readonly DomainEvent[]): readonly DomainEvent[] {
  return isEventList(decided) ? decided : [decided];
}

function isEventList(value: DomainEvent | readonly DomainEvent[]): value is readonly DomainEvent[] {
  return Array.isArray(value);
}
