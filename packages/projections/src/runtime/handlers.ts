import {
  isRetriableError,
  UpcasterChain,
  type EnvelopeWithoutPayload,
  type RecordValueDecoder,
} from '@tributary/core';
import type { OrderingPolicy, PoisonPolicy } from '../config.js';
import { isSimulatedCrash } from '../fault-injection.js';
import { decodeEvent, decodeEventWith } from '../internal/decode.js';
import type { ProjectedEvent } from '../projection.js';
import type { SourceRecord } from '../source-record.js';

/**
 * A projection as the applier runs it, whatever the store: `Context` is what the store
 * hands to handlers (for the PostgreSQL store, `ProjectionContext` with the knex
 * transaction). Every `ProjectionDefinition` is one.
 */
export interface AppliedProjection<Context> {
  readonly name: string;
  readonly version: number;
  /** Logical tables; the store names this version's physical tables from them. */
  readonly tables: readonly string[];
  readonly handlers: {
    readonly [eventType: string]:
      | {
          handle(event: ProjectedEvent, context: Context): Promise<void> | void;
        }['handle']
      | undefined;
  };
  readonly batchHandler?: {
    handle(events: readonly ProjectedEvent[], context: Context): Promise<void> | void;
  }['handle'];
  readonly ordering?: OrderingPolicy;
  readonly poison?: PoisonPolicy;
}

/** A record that failed inside the batch transaction, with whether retrying may help. */
export class RecordFailure extends Error {
  constructor(
    readonly record: SourceRecord,
    readonly envelope: EnvelopeWithoutPayload | undefined,
    readonly failure: unknown,
    readonly deterministic: boolean,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/** The projection's batch handler failed: the batch is run again one event at a time. */
export class BatchHandlerFailure extends Error {
  constructor(readonly failure: unknown) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/**
 * Decodes records into the events handlers receive and calls the handlers, turning their
 * failures into {@link RecordFailure} (per event) or {@link BatchHandlerFailure}.
 */
export class HandlerInvoker<Context> {
  readonly #projection: AppliedProjection<Context>;
  readonly #upcasters: UpcasterChain;
  readonly #valueDecoder: RecordValueDecoder | undefined;

  constructor(
    projection: AppliedProjection<Context>,
    upcasters: UpcasterChain = new UpcasterChain(),
    valueDecoder?: RecordValueDecoder,
  ) {
    this.#projection = projection;
    this.#upcasters = upcasters;
    this.#valueDecoder = valueDecoder;
  }

  /** Whether the projection handles this event type (others are only order-checked). */
  handles(eventType: string): boolean {
    return this.#projection.handlers[eventType] !== undefined;
  }

  /** Runs the event's handler, if it has one. @throws RecordFailure */
  async applyOne(
    record: SourceRecord,
    envelope: EnvelopeWithoutPayload,
    context: Context,
  ): Promise<void> {
    const handler = this.#projection.handlers[envelope.eventType];
    if (handler === undefined) return;
    const event = await this.decode(record, envelope);
    try {
      await handler(event, context);
    } catch (error) {
      throw new RecordFailure(record, envelope, error, false);
    }
  }

  /** Runs the batch handler. @throws BatchHandlerFailure (a simulated crash goes through). */
  async applyAll(events: readonly ProjectedEvent[], context: Context): Promise<void> {
    const batchHandler = this.#projection.batchHandler;
    if (batchHandler === undefined) throw new Error('The projection has no batch handler');
    try {
      await batchHandler(events, context);
    } catch (error) {
      if (isSimulatedCrash(error)) throw error;
      throw new BatchHandlerFailure(error);
    }
  }

  /** The event a handler receives. @throws RecordFailure */
  async decode(record: SourceRecord, envelope: EnvelopeWithoutPayload): Promise<ProjectedEvent> {
    try {
      return this.#valueDecoder === undefined
        ? decodeEvent(record, envelope, this.#upcasters)
        : await decodeEventWith(record, envelope, this.#upcasters, this.#valueDecoder);
    } catch (error) {
      // An unreachable schema registry heals by waiting (retried with backoff); a value that
      // does not decode, an unknown schema id or a failing upcaster never will.
      throw new RecordFailure(record, envelope, error, !isRetriableError(error));
    }
  }
}
