/**
 * @packageDocumentation
 * Contract suites, written with vitest. Import from `@tributary/testing/vitest` in test
 * files only; the main entry point stays free of any test-runner dependency.
 */
export { describeEventStoreContract, type EventStoreFixture } from './event-store.contract.js';
export {
  describeSnapshotStoreContract,
  type SnapshotStoreFixture,
} from './snapshot-store.contract.js';
export {
  describeSchemaRegistryContract,
  compatibilityCases,
  type SchemaRegistryFixture,
  type CompatibilityCase,
} from './schema-registry.contract.js';
export {
  describeProjectionStoreContract,
  type ProjectionStoreFixture,
} from './projection-store.contract.js';
export { describeKafkaClientContract, type KafkaClientFixture } from './kafka-client.contract.js';
