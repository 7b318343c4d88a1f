/**
 * @packageDocumentation
 * Reactors, process managers and deadlines for Tributary: code that reacts to events from
 * Kafka by executing commands on the service's own command bus, with exactly-once effects
 * (the commands' events and the reactor's checkpoint commit in one PostgreSQL transaction),
 * deterministic command ids, causation and correlation carried over, state per correlation
 * id, and durable scheduled commands. Runs on the projection runtime of
 * `@tributary/projections`; the in-memory twin is in `@tributary/testing`.
 */
export * from './errors.js';
export * from './config.js';
export * from './reactor.js';
export * from './process-manager.js';
export * from './context.js';
export * from './ids.js';
export * from './deadlines.js';
export * from './deadline-runner.js';
export * from './schema.js';
export * from './reactor-projection.js';
export * from './runtime.js';
export * from './batched-event-store.js';
