import {
  command,
  CommandBus,
  ConcurrencyError,
  defineAggregate,
  type DomainEvent,
  type EventStore,
  type StreamAppend,
} from '@tributary/core';
import { InMemoryEventStore } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { BatchedAppendDeclinedError, BatchedEventStore } from './index.js';

class Add {
  static readonly commandType = 'Add';
  counterId!: string;
  by!: number;
}
type CounterEvent = DomainEvent<'Added', { by: number }>;
const Counter = defineAggregate<{ total: number }, CounterEvent>({
  type: 'Counter',
  initialState: () => ({ total: 0 }),
  evolve: { Added: (state, data) => ({ total: state.total + data.by }) },
}).handles(Add, {
  aggregateId: (cmd) => cmd.counterId,
  decide: (cmd) => ({ type: 'Added', data: { by: cmd.by } }),
});

/** The in-memory store, counting the appendMany calls that reach it. */
function countingStore(): { store: EventStore; appendManyCalls: StreamAppend[][] } {
  const inner = new InMemoryEventStore();
  const appendManyCalls: StreamAppend[][] = [];
  const store: EventStore = {
    readStream: (stream, options) => inner.readStream(stream, options),
    appendToStream: (stream, events, options) => inner.appendToStream(stream, events, options),
    appendMany: (appends) => {
      appendManyCalls.push([...appends]);
      return inner.appendMany(appends);
    },
    findCommand: (id) => inner.findCommand(id),
  };
  return { store, appendManyCalls };
}

describe('BatchedEventStore', () => {
  it('holds appends back, lets later commands decide on them, and writes them in one statement per round', async () => {
    const { store, appendManyCalls } = countingStore();
    const batched = new BatchedEventStore(store);
    const bus = new CommandBus({ eventStore: batched, aggregates: [Counter], validate: false });
    const a1 = await bus.execute(command(Add, { counterId: 'a', by: 1 }), { commandId: 'x:1' });
    await bus.execute(command(Add, { counterId: 'b', by: 5 }), { commandId: 'x:2' });
    const a2 = await bus.execute<{ total: number }>(command(Add, { counterId: 'a', by: 2 }), {
      commandId: 'x:3',
    });
    expect(a2.state.total).toBe(3);
    expect(a2.version).toBe(2);
    expect(batched.pendingAppends).toBe(3);
    expect((await store.readStream({ aggregateType: 'Counter', aggregateId: 'a' })).events).toEqual(
      [],
    );

    await batched.flush();
    // Round 1: the first append of a and of b; round 2: the second of a.
    expect(appendManyCalls.map((call) => call.length)).toEqual([2, 1]);
    const stored = await store.readStream({ aggregateType: 'Counter', aggregateId: 'a' });
    expect(stored.events.map((event) => event.eventId)).toEqual([
      a1.events[0]?.eventId,
      a2.events[0]?.eventId,
    ]);
    expect(await store.findCommand('x:3')).toMatchObject({ fromVersion: 2, toVersion: 2 });
  });

  it('declines the batch when a held command id turns out to be recorded (a replay)', async () => {
    const { store } = countingStore();
    await new CommandBus({ eventStore: store, aggregates: [Counter], validate: false }).execute(
      command(Add, { counterId: 'a', by: 1 }),
      { commandId: 'x:1' },
    );
    const batched = new BatchedEventStore(store);
    // Deciding on the moved state succeeds; only the write can tell it is a replay.
    await new CommandBus({ eventStore: batched, aggregates: [Counter], validate: false }).execute(
      command(Add, { counterId: 'a', by: 1 }),
      { commandId: 'x:1' },
    );
    await expect(batched.flush()).rejects.toThrow(BatchedAppendDeclinedError);
    expect(
      (await store.readStream({ aggregateType: 'Counter', aggregateId: 'a' })).currentVersion,
    ).toBe(1);
  });

  it('surfaces a writer outside the batch as a conflict at flush', async () => {
    const { store } = countingStore();
    const batched = new BatchedEventStore(store);
    await new CommandBus({ eventStore: batched, aggregates: [Counter], validate: false }).execute(
      command(Add, { counterId: 'a', by: 1 }),
    );
    await store.appendToStream({ aggregateType: 'Counter', aggregateId: 'a' }, [
      { type: 'Added', data: { by: 9 } },
    ]);
    await expect(batched.flush()).rejects.toThrow(ConcurrencyError);
  });
});
