import { describe, expect, it } from 'vitest';
import type { AppendResult, EventStore } from './event-store.js';
import {
  instrumentEventStore,
  type EventStoreInstrumentationEvents,
} from './event-store-instrumentation.js';
import { ConcurrencyError } from './errors.js';
import { createInstrumentation } from './instrumentation.js';

const stream = { aggregateType: 'Account', aggregateId: '1' };
const event = { type: 'Opened', data: {} };

const scripted = (outcomes: (AppendResult['status'] | Error)[]): EventStore => {
  const next = (): Promise<AppendResult> => {
    const outcome = outcomes.shift();
    if (outcome instanceof Error) return Promise.reject(outcome);
    return Promise.resolve({
      status: outcome ?? 'appended',
      stream,
      nextExpectedVersion: 1,
      events: [],
    });
  };
  return {
    readStream: () => Promise.resolve({ stream, currentVersion: 0, events: [] }),
    findCommand: () => Promise.resolve(undefined),
    appendToStream: next,
    appendMany: async (appends) => Promise.all(appends.map(next)),
  };
};

describe('instrumentEventStore', () => {
  it('emits one eventstore.append per call with its result, and rethrows failures', async () => {
    const instrumentation = createInstrumentation<EventStoreInstrumentationEvents>();
    const seen: EventStoreInstrumentationEvents['eventstore.append'][] = [];
    instrumentation.on('eventstore.append', (payload) => seen.push(payload));
    const store = instrumentEventStore(
      scripted([
        'appended',
        'duplicate',
        new ConcurrencyError(stream, 0, 1),
        new Error('connection reset'),
        'appended',
        'duplicate',
      ]),
      instrumentation,
    );
    await store.appendToStream(stream, [event]);
    await store.appendToStream(stream, [event, event]);
    await expect(store.appendToStream(stream, [event])).rejects.toThrow(ConcurrencyError);
    await expect(store.appendToStream(stream, [event])).rejects.toThrow('connection reset');
    await store.appendMany([
      { stream, events: [event] },
      { stream, events: [event, event] },
    ]);
    expect(seen.map(({ result, events, streams }) => ({ result, events, streams }))).toEqual([
      { result: 'appended', events: 1, streams: 1 },
      { result: 'duplicate', events: 2, streams: 1 },
      { result: 'conflict', events: 1, streams: 1 },
      { result: 'error', events: 1, streams: 1 },
      { result: 'appended', events: 3, streams: 2 },
    ]);
    expect(seen.every((payload) => payload.durationMs >= 0)).toBe(true);
  });
});
