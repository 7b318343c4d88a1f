/**
 * @packageDocumentation
 * The pure core of Tributary: event envelopes, aggregates (decide / evolve), commands and
 * their validation, the event store port, command handling, upcasting, serialization,
 * typed errors, retries, instrumentation and the Kafka client port. It performs no I/O.
 */
import 'reflect-metadata';

export * from './errors.js';
export * from './envelope.js';
export * from './identifiers.js';
export * from './logger.js';
export * from './topics.js';
export * from './ids.js';
export * from './retry.js';
export * from './timeout.js';
export * from './instrumentation.js';
export * from './tracing.js';
export * from './payload.js';
export * from './serializer.js';
export * from './upcasting.js';
export * from './command.js';
export * from './aggregate.js';
export * from './event-store.js';
export * from './event-store-instrumentation.js';
export * from './snapshots.js';
export * from './command-bus.js';
export * from './consistency.js';
export * from './di.js';
export * from './record-format.js';
export * from './record-size.js';
export * from './schemas/index.js';
export * from './kafka/index.js';
