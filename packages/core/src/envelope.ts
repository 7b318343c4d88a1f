import type { StreamRef } from './errors.js';

/** A JSON value: what event payloads and metadata are made of. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue | undefined };

/**
 * A domain event as `decide` returns it and `evolve` receives it: a type name and its
 * data. Aggregates declare their events as a union discriminated by `type`.
 */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

/**
 * Metadata carried with every event. `correlationId` ties together everything caused by
 * one user request; `causationId` names the message (usually the command) that caused
 * this event; `traceparent` is the W3C trace context.
 */
export interface EventMetadata {
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly traceparent?: string;
  /** Application fields (user id, tenant…). Values must be JSON. */
  readonly [field: string]: JsonValue | undefined;
}

/**
 * A stored event with its full envelope: what the event store returns, what the outbox
 * holds and what Kafka records carry (payload as value, the rest as headers).
 */
export interface EventEnvelope<Type extends string = string, Payload = unknown> {
  /** UUID v7: unique across the system, time-ordered. The idempotency key. */
  readonly eventId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** 1-based and contiguous per aggregate. */
  readonly aggregateVersion: number;
  readonly eventType: Type;
  /** Version of the payload's schema; upcasters raise old versions to the current one. */
  readonly schemaVersion: number;
  readonly payload: Payload;
  readonly metadata: EventMetadata;
  /** ISO-8601 timestamp of when the event was decided. */
  readonly occurredAt: string;
}

/** The envelope type of each member of a domain event union, itself a union. */
export type EnvelopeOf<E extends DomainEvent> =
  E extends DomainEvent<infer T, infer D> ? EventEnvelope<T, D> : never;

/** An event to append. The store assigns the version; the id makes appends idempotent. */
export interface NewEvent {
  /** UUID; generated (v7) when absent. Appending the same id twice writes it once. */
  readonly eventId?: string;
  readonly type: string;
  readonly data: unknown;
  /** Defaults to 1. */
  readonly schemaVersion?: number;
  readonly metadata?: EventMetadata;
  /** ISO-8601; defaults to the store's clock. */
  readonly occurredAt?: string;
}

/** Formats a stream for messages: `Account/acc-1`. */
export function describeStream(stream: StreamRef): string {
  return `${stream.aggregateType}/${stream.aggregateId}`;
}
