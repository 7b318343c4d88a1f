import {
  assertDistinctCommandIds,
  assertDistinctStreams,
  assertReadOptions,
  assertStreamRef,
  checkExpectedVersion,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_MAX_RECORD_BYTES,
  storedVersionsOfRetry,
  type StoredEventLocation,
  prepareAppend,
  processedCommandOf,
  type ProcessedCommand,
  validatePayloads,
  type PayloadValidator,
  systemClock,
  toEnvelopes,
  uuidV7,
  type AppendOptions,
  type AppendResult,
  type Clock,
  type EventEnvelope,
  type EventStore,
  type IdGenerator,
  type NewEvent,
  type PreparedEvent,
  type ReadStreamOptions,
  type ReadStreamResult,
  type StreamAppend,
  type StreamRef,
} from '@tributary/core';

/** Options of {@link InMemoryEventStore}. */
export interface InMemoryEventStoreOptions {
  /** Largest payload accepted, in bytes. Default 1 MiB, as the Postgres store. */
  readonly maxPayloadBytes?: number;
  /**
   * Largest Kafka record capture may publish for one event; larger events are refused with
   * `RECORD_TOO_LARGE`. Default 1,048,588 (`DEFAULT_MAX_RECORD_BYTES`), as the Postgres store.
   */
  readonly maxRecordBytes?: number;
  readonly idGenerator?: IdGenerator;
  readonly clock?: Clock;
  /** Checks payloads against their declared schemas before anything is stored. Default: none. */
  readonly payloadValidator?: PayloadValidator;
}

/** An event in the store's global append order, as the in-memory outbox relays it. */
export interface PositionedEnvelope {
  /** 1-based insertion order across all streams (like the outbox's `position`). */
  readonly position: number;
  readonly envelope: EventEnvelope;
}

/** Called after each successful append with the events it wrote, in order. */
export type AppendListener = (events: readonly PositionedEnvelope[]) => void;

/**
 * An {@link EventStore} held in memory: same validation, numbering, concurrency and
 * idempotency rules as the Postgres store (it passes the same contract suite), no server.
 *
 * Appends are atomic because nothing awaits between the checks and the writes: JavaScript
 * runs them to completion, as a Postgres transaction would serialize them.
 */
export class InMemoryEventStore implements EventStore {
  readonly #streams = new Map<string, EventEnvelope[]>();
  readonly #eventIndex = new Map<string, StoredEventLocation>();
  /** Command ids recorded with their appends (the commands table of the Postgres store). */
  readonly #commands = new Map<string, ProcessedCommand>();
  readonly #log: PositionedEnvelope[] = [];
  readonly #listeners = new Set<AppendListener>();
  readonly #options: Required<Omit<InMemoryEventStoreOptions, 'payloadValidator'>>;
  readonly #payloadValidator: PayloadValidator | undefined;

  constructor(options: InMemoryEventStoreOptions = {}) {
    this.#payloadValidator = options.payloadValidator;
    this.#options = {
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES,
      idGenerator: options.idGenerator ?? uuidV7,
      clock: options.clock ?? systemClock,
    };
  }

  readStream(stream: StreamRef, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    return settle(() => {
      assertStreamRef(stream);
      assertReadOptions(options);
      const events = this.#streams.get(streamKey(stream)) ?? [];
      const from = (options.fromVersion ?? 1) - 1;
      const to = options.maxCount === undefined ? undefined : from + options.maxCount;
      return {
        stream: { aggregateType: stream.aggregateType, aggregateId: stream.aggregateId },
        currentVersion: events.length,
        events: events.slice(from, to),
      };
    });
  }

  async appendToStream(
    stream: StreamRef,
    events: readonly NewEvent[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const [result] = await this.appendMany([
      {
        stream,
        events,
        expectedVersion: options.expectedVersion ?? 'any',
        ...(options.commandId === undefined ? {} : { commandId: options.commandId }),
      },
    ]);
    return result as AppendResult;
  }

  findCommand(commandId: string): Promise<ProcessedCommand | undefined> {
    return settle(() => this.#commands.get(commandId));
  }

  appendMany(appends: readonly StreamAppend[]): Promise<readonly AppendResult[]> {
    return settle(() => this.#appendManySync(appends));
  }

  /** Every stored event in global append order (a copy). */
  allEvents(): readonly PositionedEnvelope[] {
    return [...this.#log];
  }

  /** Subscribes to appends; returns the function that unsubscribes. */
  onAppended(listener: AppendListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #appendManySync(appends: readonly StreamAppend[]): AppendResult[] {
    assertDistinctStreams(appends);
    assertDistinctCommandIds(appends);
    // Phase 1: validate everything and decide each stream's outcome, writing nothing, so a
    // failure in the last stream leaves the first untouched (all or nothing).
    const plans = appends.map((append) => {
      const expected = append.expectedVersion ?? 'any';
      const prepared = prepareAppend(append.stream, append.events, expected, {
        ...this.#options,
        commandId: append.commandId,
      });
      validatePayloads(this.#payloadValidator, append.stream, prepared);
      const key = streamKey(append.stream);
      const existing = this.#streams.get(key) ?? [];
      // A recorded command wins over everything else: its retry writes nothing.
      const command =
        append.commandId === undefined
          ? undefined
          : processedCommandOf(
              append.stream,
              append.commandId,
              this.#commands.get(append.commandId),
            );
      if (command !== undefined) {
        const duplicate = existing.slice(command.fromVersion - 1, command.toVersion);
        return { append, key, prepared, duplicate };
      }
      const duplicate = this.#findDuplicate(append.stream, prepared);
      if (duplicate !== undefined) return { append, key, prepared, duplicate };
      checkExpectedVersion(append.stream, expected, existing.length);
      return { append, key, prepared, duplicate: undefined };
    });
    // Phase 2: write.
    const written: PositionedEnvelope[] = [];
    const results = plans.map(({ append, key, prepared, duplicate }): AppendResult => {
      const stream = {
        aggregateType: append.stream.aggregateType,
        aggregateId: append.stream.aggregateId,
      };
      const existing = this.#streams.get(key) ?? [];
      if (duplicate !== undefined) {
        return {
          status: 'duplicate',
          stream,
          nextExpectedVersion: existing.length,
          events: duplicate,
        };
      }
      const previousVersion = existing.length;
      const envelopes = toEnvelopes(stream, previousVersion, prepared).map(freezeEnvelope);
      if (append.commandId !== undefined) {
        this.#commands.set(append.commandId, {
          commandId: append.commandId,
          stream,
          fromVersion: previousVersion + 1,
          toVersion: previousVersion + envelopes.length,
        });
      }
      for (const envelope of envelopes) {
        existing.push(envelope);
        this.#eventIndex.set(envelope.eventId, {
          aggregateType: envelope.aggregateType,
          aggregateId: envelope.aggregateId,
          aggregateVersion: envelope.aggregateVersion,
        });
        const positioned = { position: this.#log.length + 1, envelope };
        this.#log.push(positioned);
        written.push(positioned);
      }
      this.#streams.set(key, existing);
      return {
        status: 'appended',
        stream,
        nextExpectedVersion: existing.length,
        events: envelopes,
      };
    });
    for (const listener of this.#listeners) listener(written);
    return results;
  }

  /** The stored envelopes when the append repeats stored events (see `storedVersionsOfRetry`). */
  #findDuplicate(
    stream: StreamRef,
    prepared: readonly PreparedEvent[],
  ): EventEnvelope[] | undefined {
    const versions = storedVersionsOfRetry(stream, prepared, (eventId) =>
      this.#eventIndex.get(eventId),
    );
    if (versions === undefined) return undefined;
    const events = this.#streams.get(streamKey(stream)) ?? [];
    return versions.map((version) => events[version - 1] as EventEnvelope);
  }
}

/** Runs `work` now and turns a throw into a rejection, as an async store would report it. */
function settle<T>(work: () => T): Promise<T> {
  return new Promise((resolve) => {
    resolve(work());
  });
}

function streamKey(stream: StreamRef): string {
  return `${stream.aggregateType}\u0000${stream.aggregateId}`;
}

/** Stored events are copied and frozen, so no caller can change history by mutating an object. */
function freezeEnvelope(envelope: EventEnvelope): EventEnvelope {
  return deepFreeze(structuredClone(envelope));
}

/** Freezes an object graph in place and returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
