import {
  EventHeaders,
  headerValue,
  isRetriableError,
  noopTracer,
  type Tracer,
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
  readonly #tracer: Tracer;

  constructor(
    projection: AppliedProjection<Context>,
    upcasters: UpcasterChain = new UpcasterChain(),
    valueDecoder?: RecordValueDecoder,
    tracer: Tracer = noopTracer,
  ) {
    this.#projection = projection;
    this.#upcasters = upcasters;
    this.#valueDecoder = valueDecoder;
    this.#tracer = tracer;
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
    if (!this.#tracer.enabled) {
      try {
        await handler(event, context);
      } catch (error) {
        throw new RecordFailure(record, envelope, error, false);
      }
      return;
    }
    const parent = headerValue(record.headers, EventHeaders.traceparent);
    await this.#tracer.inSpan(
      `apply ${this.#projection.name}`,
      {
        kind: 'consumer',
        ...(parent === undefined ? {} : { parent }),
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': record.topic,
          'messaging.destination.partition.id': String(record.partition),
          'messaging.kafka.offset': record.offset,
          'tributary.projection': this.#projection.name,
          'tributary.event_type': envelope.eventType,
          'tributary.aggregate_id': envelope.aggregateId,
          'tributary.aggregate_version': envelope.aggregateVersion,
        },
      },
      async (span) => {
        try {
          await handler(event, context);
        } catch (error) {
          span.recordError(error);
          throw new RecordFailure(record, envelope, error, false);
        }
      },
    );
  }

  /** Contexts of a batch's records, for the links of a batch handler's span. */
  #links(events: readonly ProjectedEvent[]): string[] {
    const links = new Set<string>();
    for (const event of events) {
      const traceparent = event.metadata.traceparent;
      if (typeof traceparent === 'string') links.add(traceparent);
      if (links.size >= 128) break;
    }
    return [...links];
  }

  /** Runs the batch handler. @throws BatchHandlerFailure (a simulated crash goes through). */
  async applyAll(events: readonly ProjectedEvent[], context: Context): Promise<void> {
    const batchHandler = this.#projection.batchHandler;
    if (batchHandler === undefined) throw new Error('The projection has no batch handler');
    const run = async (): Promise<void> => {
      try {
        await batchHandler(events, context);
      } catch (error) {
        if (isSimulatedCrash(error)) throw error;
        throw new BatchHandlerFailure(error);
      }
    };
    if (!this.#tracer.enabled) return run();
    // One call for many traces: a span linked to them rather than a child of one.
    return this.#tracer.inSpan(
      `apply ${this.#projection.name}`,
      {
        kind: 'consumer',
        links: this.#links(events),
        attributes: {
          'messaging.operation.type': 'process',
          'messaging.batch.message_count': events.length,
          'tributary.projection': this.#projection.name,
        },
      },
      async (span) => {
        try {
          await run();
        } catch (error) {
          span.recordError(error);
          throw error;
        }
      },
    );
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
