import 'reflect-metadata';
import { IsInt, IsPositive, IsString, Length } from 'class-validator';
import { container as rootContainer, inject, injectable } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { defineAggregate } from './aggregate.js';
import { command } from './command.js';
import { CommandBus, type CoreInstrumentationEvents } from './command-bus.js';
import { registerTributary } from './di.js';
import type { DomainEvent, EventEnvelope, NewEvent } from './envelope.js';
import {
  DomainRuleViolation,
  RetriesExhaustedError,
  UnknownCommandError,
  UnknownEventTypeError,
  ValidationError,
  type StreamRef,
} from './errors.js';
import {
  checkExpectedVersion,
  prepareAppend,
  toEnvelopes,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadStreamResult,
  type StreamAppend,
} from './event-store.js';
import { systemClock, uuidV7 } from './ids.js';
import { createInstrumentation } from './instrumentation.js';
import { UpcasterChain } from './upcasting.js';

type CounterEvent =
  DomainEvent<'Started', { name: string }> | DomainEvent<'Incremented', { by: number }>;
interface CounterState {
  readonly name: string | null;
  readonly value: number;
}

class StartCounter {
  @IsString() @Length(1, 20) counterId!: string;
  @IsString() @Length(1, 50) name!: string;
}
class Increment {
  @IsString() counterId!: string;
  @IsInt() @IsPositive() by!: number;
}
class NotHandled {
  @IsString() id!: string;
}

class CounterNotStarted extends DomainRuleViolation {
  constructor() {
    super('CounterNotStarted', 'Start the counter before incrementing it');
  }
}

const Counter = defineAggregate<CounterState, CounterEvent>({
  type: 'Counter',
  initialState: () => ({ name: null, value: 0 }),
  evolve: {
    Started: (state, { name }) => ({ ...state, name }),
    Incremented: (state, { by }) => ({ ...state, value: state.value + by }),
  },
  schemaVersions: { Incremented: 2 },
})
  .handles(StartCounter, {
    aggregateId: (cmd) => cmd.counterId,
    decide: (cmd, state) =>
      state.name === null ? { type: 'Started', data: { name: cmd.name } } : [],
  })
  .handles(Increment, {
    aggregateId: (cmd) => cmd.counterId,
    decide: (cmd, state) => {
      if (state.name === null) throw new CounterNotStarted();
      return { type: 'Incremented', data: { by: cmd.by } };
    },
  });

/** A minimal store for unit tests of the bus; it can simulate a competing writer. */
class ScriptedStore implements EventStore {
  readonly streams = new Map<string, EventEnvelope[]>();
  /** Appends that lose to a simulated competing writer before they are applied. */
  conflictsToInject = 0;

  findCommand(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  readStream(stream: StreamRef): Promise<ReadStreamResult> {
    const events = this.streams.get(stream.aggregateId) ?? [];
    return Promise.resolve({ stream, currentVersion: events.length, events: [...events] });
  }

  appendToStream(
    stream: StreamRef,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    if (this.conflictsToInject > 0) {
      this.conflictsToInject -= 1;
      this.#write(stream, [{ type: 'Incremented', data: { by: 100 }, schemaVersion: 2 }], 'any');
    }
    return Promise.resolve(this.#write(stream, events, options.expectedVersion ?? 'any'));
  }

  #write(stream: StreamRef, events: readonly NewEvent[], expected: ExpectedVersion): AppendResult {
    const prepared = prepareAppend(stream, events, expected, {
      idGenerator: uuidV7,
      clock: systemClock,
    });
    const existing = this.streams.get(stream.aggregateId) ?? [];
    checkExpectedVersion(stream, expected, existing.length);
    const envelopes = toEnvelopes(stream, existing.length, prepared);
    this.streams.set(stream.aggregateId, [...existing, ...envelopes]);
    return {
      status: 'appended',
      stream,
      nextExpectedVersion: existing.length + envelopes.length,
      events: envelopes,
    };
  }

  appendMany(_appends: readonly StreamAppend[]): Promise<readonly AppendResult[]> {
    return Promise.reject(new Error('not used'));
  }
}

const fastRetry = { initialDelayMs: 0, jitter: 0 };

describe('CommandBus', () => {
  it('loads, decides and appends, putting correlation and causation ids into the metadata', async () => {
    const store = new ScriptedStore();
    const bus = new CommandBus({ eventStore: store, aggregates: [Counter] });
    await bus.execute(command(StartCounter, { counterId: 'c-1', name: 'clicks' }));
    const result = await bus.execute<CounterState>(
      command(Increment, { counterId: 'c-1', by: 5 }),
      {
        commandId: '01890000-0000-7000-8000-0000000000aa',
        correlationId: 'request-42',
        causationId: 'event-7',
        metadata: { userId: 'u-1' },
      },
    );
    expect(result.state).toEqual({ name: 'clicks', value: 5 });
    expect(result.version).toBe(2);
    expect(result.attempts).toBe(1);
    expect(result.events[0]).toMatchObject({
      eventType: 'Incremented',
      aggregateVersion: 2,
      schemaVersion: 2,
      payload: { by: 5 },
      metadata: {
        correlationId: 'request-42',
        causationId: '01890000-0000-7000-8000-0000000000aa',
        commandCausationId: 'event-7',
        userId: 'u-1',
      },
    });
  });

  it('appends nothing when decide returns no events', async () => {
    const store = new ScriptedStore();
    const bus = new CommandBus({ eventStore: store, aggregates: [Counter] });
    await bus.execute(command(StartCounter, { counterId: 'c-1', name: 'a' }));
    const again = await bus.execute(command(StartCounter, { counterId: 'c-1', name: 'b' }));
    expect(again.events).toEqual([]);
    expect(store.streams.get('c-1')).toHaveLength(1);
  });

  it('reloads and decides again after a concurrency conflict', async () => {
    const store = new ScriptedStore();
    const retried: number[] = [];
    const instrumentation = createInstrumentation<CoreInstrumentationEvents>();
    instrumentation.on('command.retried', ({ attempt }) => retried.push(attempt));
    const bus = new CommandBus({
      eventStore: store,
      aggregates: [Counter],
      retry: fastRetry,
      instrumentation,
    });
    await bus.execute(command(StartCounter, { counterId: 'c-1', name: 'a' }));
    store.conflictsToInject = 2;
    const result = await bus.execute<CounterState>(command(Increment, { counterId: 'c-1', by: 1 }));
    expect(result.attempts).toBe(3);
    expect(retried).toEqual([1, 2]);
    // The competing writer's two increments of 100 are in the state the command decided on.
    expect(result.state.value).toBe(201);
    expect(store.streams.get('c-1')?.map((event) => event.aggregateVersion)).toEqual([1, 2, 3, 4]);
  });

  it('gives up after the retry bound', async () => {
    const store = new ScriptedStore();
    const bus = new CommandBus({
      eventStore: store,
      aggregates: [Counter],
      retry: { ...fastRetry, retries: 1 },
    });
    await bus.execute(command(StartCounter, { counterId: 'c-1', name: 'a' }));
    store.conflictsToInject = 5;
    await expect(
      bus.execute(command(Increment, { counterId: 'c-1', by: 1 })),
    ).rejects.toBeInstanceOf(RetriesExhaustedError);
  });

  it('rejects an invalid command with every failed field and rule, before loading', async () => {
    const store = new ScriptedStore();
    const bus = new CommandBus({ eventStore: store, aggregates: [Counter] });
    const error = await bus
      .execute(Object.assign(command(Increment, { counterId: '', by: -2.5 }), { extra: true }))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues
      .map(({ field, rule }) => `${field}:${rule}`)
      .sort();
    expect(issues).toEqual(['by:isInt', 'by:isPositive', 'extra:whitelistValidation']);
    expect(store.streams.size).toBe(0);
  });

  it('surfaces business rule violations from decide as typed errors', async () => {
    const bus = new CommandBus({ eventStore: new ScriptedStore(), aggregates: [Counter] });
    await expect(
      bus.execute(command(Increment, { counterId: 'c-9', by: 1 })),
    ).rejects.toMatchObject({
      code: 'DOMAIN_RULE_VIOLATION',
      rule: 'CounterNotStarted',
    });
  });

  it('rejects a command no aggregate handles, and a plain object posing as a command', async () => {
    const bus = new CommandBus({ eventStore: new ScriptedStore(), aggregates: [Counter] });
    await expect(bus.execute(command(NotHandled, { id: 'x' }))).rejects.toBeInstanceOf(
      UnknownCommandError,
    );
    await expect(bus.execute({ counterId: 'c-1', by: 1 })).rejects.toBeInstanceOf(
      UnknownCommandError,
    );
  });

  it('upcasts stored events before evolving them', async () => {
    const store = new ScriptedStore();
    const stream = { aggregateType: 'Counter', aggregateId: 'c-1' };
    await store.appendToStream(stream, [
      { type: 'Started', data: { name: 'legacy' } },
      { type: 'Incremented', data: { amount: 7 }, schemaVersion: 1 },
    ]);
    const upcasters = new UpcasterChain([
      {
        eventType: 'Incremented',
        fromVersion: 1,
        upcast: (payload) => ({ by: (payload as { amount: number }).amount }),
      },
    ]);
    const bus = new CommandBus({ eventStore: store, aggregates: [Counter], upcasters });
    expect((await bus.load(Counter, 'c-1')).state).toEqual({ name: 'legacy', value: 7 });
  });

  it('refuses to load a stream holding an event type the aggregate does not know', async () => {
    const store = new ScriptedStore();
    await store.appendToStream({ aggregateType: 'Counter', aggregateId: 'c-1' }, [
      { type: 'Exploded', data: {} },
    ]);
    const bus = new CommandBus({ eventStore: store, aggregates: [Counter] });
    await expect(bus.load(Counter, 'c-1')).rejects.toBeInstanceOf(UnknownEventTypeError);
  });

  it('refuses two aggregates handling the same command', () => {
    const Other = defineAggregate<CounterState, CounterEvent>({
      type: 'Other',
      initialState: () => ({ name: null, value: 0 }),
      evolve: Counter.evolve,
    }).handles(Increment, { aggregateId: (cmd) => cmd.counterId, decide: () => [] });
    expect(
      () => new CommandBus({ eventStore: new ScriptedStore(), aggregates: [Counter, Other] }),
    ).toThrow(/handled by both Counter and Other/);
  });
});

describe('tsyringe registration', () => {
  @injectable()
  class CounterService {
    constructor(@inject(CommandBus) private readonly bus: CommandBus) {}

    async bump(counterId: string): Promise<number> {
      const result = await this.bus.execute<CounterState>(command(Increment, { counterId, by: 1 }));
      return result.state.value;
    }
  }

  it('resolves injectable services that depend on the command bus', async () => {
    const container = rootContainer.createChildContainer();
    const store = new ScriptedStore();
    registerTributary(container, { eventStore: store, aggregates: [Counter] });
    const bus = container.resolve(CommandBus);
    expect(container.resolve(CommandBus)).toBe(bus);
    await bus.execute(command(StartCounter, { counterId: 'c-1', name: 'x' }));
    const service = container.resolve(CounterService);
    expect(await service.bump('c-1')).toBe(1);
    expect(await service.bump('c-1')).toBe(2);
  });
});

describe('defineAggregate', () => {
  it('rejects an aggregate type that cannot become a topic name', () => {
    expect(() =>
      defineAggregate<CounterState, CounterEvent>({
        type: 'bank.Counter',
        initialState: () => ({ name: null, value: 0 }),
        evolve: Counter.evolve,
      }),
    ).toThrow(/Invalid aggregate type/);
  });

  it('lists its event types and their schema versions', () => {
    expect(Counter.eventTypes).toEqual(['Started', 'Incremented']);
    expect(Counter.schemaVersionOf('Incremented')).toBe(2);
    expect(Counter.schemaVersionOf('Started')).toBe(1);
  });

  it('rejects handling the same command twice', () => {
    expect(() =>
      Counter.handles(Increment, { aggregateId: (cmd) => cmd.counterId, decide: () => [] }),
    ).toThrow(/already handles command Increment/);
  });
});
