/**
 * The in-memory projection runtime: the same projection definitions and exactly-once
 * applier as the Kafka runtime, on the in-memory log and an embedded PostgreSQL (PGlite).
 *
 * @packageDocumentation
 */
export { createPgliteKnex, type PgliteKnex, type PgliteKnexOptions } from './pglite.js';
export {
  relayEventsToLog,
  recordOf,
  type InMemoryRelay,
  type InMemoryRelayOptions,
} from './in-memory-relay.js';
export {
  InMemoryProjectionRuntime,
  type InMemoryProjectionRuntimeOptions,
  type RunSummary,
} from './in-memory-projection-runtime.js';
export {
  projectionSpec,
  givenEvent,
  givenRawEvent,
  type GivenEventFields,
  type GivenInput,
  type GivenProjectedEvent,
  type RawGivenEvent,
  type ProjectionScenario,
  type ProjectionSpecOptions,
  type ReadModel,
} from './projection-specification.js';
