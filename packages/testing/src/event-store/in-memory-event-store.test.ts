import { describe, expect, it } from 'vitest';
import { describeEventStoreContract } from '../contracts/index.js';
import { InMemoryEventStore } from './in-memory-event-store.js';

describeEventStoreContract('InMemoryEventStore', () =>
  Promise.resolve({ store: new InMemoryEventStore() }),
);

describe('InMemoryEventStore', () => {
  it('keeps a global append order and notifies listeners of each append', async () => {
    const store = new InMemoryEventStore();
    const seen: number[][] = [];
    const unsubscribe = store.onAppended((events) =>
      seen.push(events.map((event) => event.position)),
    );
    await store.appendToStream({ aggregateType: 'A', aggregateId: '1' }, [{ type: 'X', data: {} }]);
    await store.appendToStream({ aggregateType: 'A', aggregateId: '2' }, [
      { type: 'X', data: {} },
      { type: 'Y', data: {} },
    ]);
    unsubscribe();
    await store.appendToStream({ aggregateType: 'A', aggregateId: '1' }, [{ type: 'X', data: {} }]);
    expect(seen).toEqual([[1], [2, 3]]);
    expect(store.allEvents().map((event) => event.envelope.aggregateId)).toEqual([
      '1',
      '2',
      '2',
      '1',
    ]);
  });

  it('stores a copy, so mutating the appended payload afterwards changes nothing', async () => {
    const store = new InMemoryEventStore();
    const data = { amount: 1 };
    const stream = { aggregateType: 'A', aggregateId: '1' };
    await store.appendToStream(stream, [{ type: 'X', data }]);
    data.amount = 99;
    const { events } = await store.readStream(stream);
    expect(events[0]?.payload).toEqual({ amount: 1 });
    expect(Object.isFrozen(events[0]?.payload)).toBe(true);
  });

  it('applies a configurable payload limit', async () => {
    const store = new InMemoryEventStore({ maxPayloadBytes: 16 });
    const stream = { aggregateType: 'A', aggregateId: '1' };
    await expect(
      store.appendToStream(stream, [{ type: 'X', data: { text: 'x'.repeat(20) } }]),
    ).rejects.toMatchObject({
      code: 'INVALID_EVENT',
    });
  });
});
