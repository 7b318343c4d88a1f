/**
 * Prometheus metrics for Tributary, with prom-client, and `createOpenTelemetryTracer`, the
 * OpenTelemetry adapter of the core tracing port. Each factory subscribes to the typed
 * instrumentation events of one part (command bus, event store, capturer, projection
 * runtime) and registers its `tributary_*` metrics in a registry (default: prom-client's
 * global one). Serving them is the application's (or the `tributary` CLI's) business.
 *
 * @packageDocumentation
 */
export type { MetricsHandle, MetricsOptions } from './registry.js';
export * from './command-metrics.js';
export * from './capture-metrics.js';
export * from './projection-metrics.js';
export * from './opentelemetry.js';
