import type { AppendOptions, AppendResult, EventStore, StreamAppend } from './event-store.js';
import type { NewEvent } from './envelope.js';
import { isTributaryError, type StreamRef } from './errors.js';
import type { Instrumentation } from './instrumentation.js';

/** How an append ended, as {@link EventStoreInstrumentationEvents} report it. */
export type AppendOutcome = 'appended' | 'duplicate' | 'conflict' | 'error';

/** Instrumentation events of an event store wrapped by {@link instrumentEventStore}. */
export interface EventStoreInstrumentationEvents {
  /** One `appendToStream` or `appendMany` call finished (written, or failed). */
  'eventstore.append': {
    /** Streams written by the call (1 for `appendToStream`). */
    readonly streams: number;
    /** Events offered to the store. */
    readonly events: number;
    readonly result: AppendOutcome;
    readonly durationMs: number;
  };
}

/**
 * Wraps any {@link EventStore} so each append emits `eventstore.append`, whatever the
 * technology behind it. Reads pass through untouched. Nothing is measured while nobody
 * listens, so wrapping costs one check per append.
 */
export function instrumentEventStore(
  store: EventStore,
  instrumentation: Instrumentation<EventStoreInstrumentationEvents>,
): EventStore {
  const measured = async <R>(
    streams: number,
    events: number,
    outcome: (result: R) => AppendOutcome,
    append: () => Promise<R>,
  ): Promise<R> => {
    if (!instrumentation.hasListeners('eventstore.append')) return append();
    const started = performance.now();
    try {
      const result = await append();
      instrumentation.emit('eventstore.append', {
        streams,
        events,
        result: outcome(result),
        durationMs: performance.now() - started,
      });
      return result;
    } catch (error) {
      instrumentation.emit('eventstore.append', {
        streams,
        events,
        result: isTributaryError(error, 'CONCURRENCY_CONFLICT') ? 'conflict' : 'error',
        durationMs: performance.now() - started,
      });
      throw error;
    }
  };
  return {
    readStream: (stream, options) => store.readStream(stream, options),
    findCommand: (commandId) => store.findCommand(commandId),
    appendToStream: (stream: StreamRef, events: readonly NewEvent[], options?: AppendOptions) =>
      measured(
        1,
        events.length,
        (result: AppendResult) => result.status,
        () => store.appendToStream(stream, events, options),
      ),
    appendMany: (appends: readonly StreamAppend[]) =>
      measured(
        appends.length,
        appends.reduce((sum, append) => sum + append.events.length, 0),
        (results: readonly AppendResult[]) =>
          results.every((result) => result.status === 'duplicate') ? 'duplicate' : 'appended',
        () => store.appendMany(appends),
      ),
  };
}
