/**
 * @packageDocumentation
 * Test support for Tributary: an in-memory event store, an in-memory Kafka-like log,
 * given/when/then specifications and the launcher of the real local stack. Contract suites
 * (vitest) are in the `@tributary/testing/vitest` entry point.
 */
export {
  InMemoryEventStore,
  deepFreeze,
  type InMemoryEventStoreOptions,
  type PositionedEnvelope,
  type AppendListener,
} from './event-store/in-memory-event-store.js';
export { InMemorySnapshotStore } from './event-store/in-memory-snapshot-store.js';
export * from './specification/aggregate-specification.js';
export * from './log/index.js';
export * from './stack/index.js';
export * from './faults/index.js';
export * from './projections/index.js';
export * from './schema-registry/index.js';
export * from './fixtures/counter-events.js';
export * from './fixtures/counter-projection.js';
export * from './reactors/index.js';
export * from './processes/json-line-child.js';
