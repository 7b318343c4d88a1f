import {
  uuidV7,
  type AppendOptions,
  type AppendResult,
  type EventEnvelope,
  type EventStore,
  type ExpectedVersion,
  type NewEvent,
  type ProcessedCommand,
  type ReadStreamOptions,
  type ReadStreamResult,
  type StreamAppend,
  type StreamRef,
} from '@tributary/core';
import { ReactorError } from './errors.js';

/** One command's append, held until the batch's appends are written together. */
interface PendingAppend {
  readonly stream: StreamRef;
  readonly events: readonly NewEvent[];
  readonly expectedVersion: number;
  readonly commandId: string | undefined;
  /** The stream's version after this append, as announced to the command bus. */
  readonly nextVersion: number;
}

/** What this store knows of one stream: what the transaction read, plus pending appends. */
interface CachedStream {
  /** First version held in `events` (1 unless read from a snapshot on). */
  readonly fromVersion: number;
  readonly events: EventEnvelope[];
  version: number;
}

/** Larger than any stream version (the version columns are 32-bit): reads no event, only the version. */
const LAST_VERSION = 2_147_483_647;

const streamKey = (stream: StreamRef): string =>
  `${stream.aggregateType}\u0000${stream.aggregateId}`;

/**
 * Thrown when the batch cannot be completed as batched (an append found a recorded command
 * id, a read the cache cannot answer): the reactor runtime then runs the batch again one
 * event at a time, where every outcome has its ordinary meaning.
 */
export class BatchedAppendDeclinedError extends ReactorError {
  constructor(reason: string) {
    super(
      'REACTOR_BATCH_DECLINED',
      `The batched run of this reactor batch was declined (${reason}); the batch is run again one event at a time`,
    );
  }
}

/**
 * An event store over one batch transaction that holds appends back and writes them at the
 * end of the batch, in as few statements as streams allow (one `appendMany` per round: the
 * n-th append of every stream), instead of a savepoint and a statement per command. Reads
 * come from the transaction the first time and from memory afterwards, pending appends
 * included, so a later command of the batch on the same aggregate decides on the state the
 * earlier ones left.
 *
 * Results announced to the command bus are those the real store would return for an
 * append without a conflict. Anything else found at {@link flush} — a conflict with a writer
 * outside the batch, a command id recorded earlier (a replay) — throws, the batch
 * transaction rolls back and the runtime applies the batch again event by event on the
 * ordinary store, where conflicts are retried and recorded ids replayed.
 */
export class BatchedEventStore implements EventStore {
  readonly #inner: EventStore;
  readonly #streams = new Map<string, CachedStream>();
  readonly #pending: PendingAppend[] = [];

  /** @param inner the service's event store bound to the batch transaction. */
  constructor(inner: EventStore) {
    this.#inner = inner;
  }

  async readStream(stream: StreamRef, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    const fromVersion = options.fromVersion ?? 1;
    let cached = this.#streams.get(streamKey(stream));
    if (cached === undefined || fromVersion < cached.fromVersion) {
      // Pending events are not in the database yet: an earlier part cannot be read around them.
      if (cached !== undefined && this.#hasPending(stream))
        throw new BatchedAppendDeclinedError('a stream was read again from an earlier version');
      const read = await this.#inner.readStream(stream, { fromVersion });
      cached = {
        fromVersion: Math.min(fromVersion, read.currentVersion + 1),
        events: [...read.events],
        version: read.currentVersion,
      };
      this.#streams.set(streamKey(stream), cached);
    }
    const start = Math.max(0, fromVersion - cached.fromVersion);
    const end = options.maxCount === undefined ? undefined : start + options.maxCount;
    return {
      stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
      currentVersion: cached.version,
      events: cached.events.slice(start, end),
    };
  }

  async appendToStream(
    stream: StreamRef,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    // The command bus always loads before it appends; another caller gets the version read.
    if (!this.#streams.has(streamKey(stream)))
      await this.readStream(stream, { fromVersion: LAST_VERSION });
    const cached = this.#streams.get(streamKey(stream));
    if (cached === undefined) throw new Error('stream not cached after reading it');
    const expected = options.expectedVersion ?? 'any';
    if (!holds(expected, cached.version)) {
      // The command bus appends at the version it loaded from here: only a caller with its
      // own expectation gets here; the ordinary store reports it properly.
      throw new BatchedAppendDeclinedError('an append expected another stream version');
    }
    const occurredNow = new Date().toISOString();
    const appended: EventEnvelope[] = events.map((event, index) => ({
      eventId: (event.eventId ?? uuidV7()).toLowerCase(),
      aggregateType: stream.aggregateType,
      aggregateId: stream.aggregateId,
      aggregateVersion: cached.version + index + 1,
      eventType: event.type,
      schemaVersion: event.schemaVersion ?? 1,
      payload: event.data,
      metadata: event.metadata ?? {},
      occurredAt: new Date(event.occurredAt ?? occurredNow).toISOString(),
    }));
    const expectedVersion = cached.version;
    cached.events.push(...appended);
    cached.version += appended.length;
    this.#pending.push({
      stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
      // Ids and times fixed now, so the stored events are the ones announced to the bus.
      events: appended.map((event) => ({
        eventId: event.eventId,
        type: event.eventType,
        data: event.payload,
        schemaVersion: event.schemaVersion,
        metadata: event.metadata,
        occurredAt: event.occurredAt,
      })),
      expectedVersion,
      commandId: options.commandId,
      nextVersion: cached.version,
    });
    return {
      status: 'appended',
      stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
      nextExpectedVersion: cached.version,
      events: appended,
    };
  }

  async appendMany(appends: readonly StreamAppend[]): Promise<readonly AppendResult[]> {
    const results: AppendResult[] = [];
    for (const append of appends) {
      results.push(
        await this.appendToStream(append.stream, append.events, {
          ...(append.expectedVersion === undefined
            ? {}
            : { expectedVersion: append.expectedVersion }),
          ...(append.commandId === undefined ? {} : { commandId: append.commandId }),
        }),
      );
    }
    return results;
  }

  /** Recorded commands are in the database: pending ones are this batch's, never asked for. */
  findCommand(commandId: string): Promise<ProcessedCommand | undefined> {
    return this.#inner.findCommand(commandId);
  }

  /** How many appends wait for {@link flush}. */
  get pendingAppends(): number {
    return this.#pending.length;
  }

  /**
   * Writes the pending appends through the inner store: round n holds the n-th pending
   * append of every stream (an `appendMany` takes each stream and command id once), so a
   * batch whose commands touch distinct aggregates is one statement.
   *
   * @throws BatchedAppendDeclinedError when the store's answer differs from the one
   * announced (a recorded command id); the store's ConcurrencyError when a writer outside
   * the batch appended meanwhile.
   */
  async flush(): Promise<void> {
    const rounds: PendingAppend[][] = [];
    const seen = new Map<string, number>();
    for (const append of this.#pending) {
      const key = streamKey(append.stream);
      const round = seen.get(key) ?? 0;
      seen.set(key, round + 1);
      (rounds[round] ??= []).push(append);
    }
    this.#pending.length = 0;
    for (const round of rounds) {
      const results = await this.#inner.appendMany(
        round.map((append) => ({
          stream: append.stream,
          events: append.events,
          expectedVersion: append.expectedVersion,
          ...(append.commandId === undefined ? {} : { commandId: append.commandId }),
        })),
      );
      round.forEach((append, index) => {
        const result = results[index];
        if (result?.status !== 'appended' || result.nextExpectedVersion !== append.nextVersion)
          throw new BatchedAppendDeclinedError(
            `command ${append.commandId ?? '(no id)'} was not appended as announced (${result?.status ?? 'no result'})`,
          );
      });
    }
  }

  #hasPending(stream: StreamRef): boolean {
    const key = streamKey(stream);
    return this.#pending.some((append) => streamKey(append.stream) === key);
  }
}

function holds(expected: ExpectedVersion, actual: number): boolean {
  if (expected === 'any') return true;
  return (expected === 'no-stream' ? 0 : expected) === actual;
}
