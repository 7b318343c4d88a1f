import type {
  CoreInstrumentationEvents,
  EventStoreInstrumentationEvents,
  Instrumentation,
} from '@tributary/core';
import { Histogram } from 'prom-client';
import {
  handleOf,
  registryOf,
  seconds,
  type MetricsHandle,
  type MetricsOptions,
} from './registry.js';

/** Buckets of the write-side latencies: an append or a command takes ms, rarely seconds. */
const WRITE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Options of {@link createCommandMetrics}. */
export interface CommandMetricsOptions extends MetricsOptions {
  /** The command bus's instrumentation (`CommandBusOptions.instrumentation`). */
  readonly instrumentation: Instrumentation<CoreInstrumentationEvents>;
}

/**
 * `tributary_command_seconds{command,result}`: how long `CommandBus.execute` took, from
 * validation to the append, retries included. `result` is `ok` or the error code that
 * ended the command (`VALIDATION_FAILED`, `RETRIES_EXHAUSTED`, a domain rule's code…).
 */
export function createCommandMetrics(options: CommandMetricsOptions): MetricsHandle {
  const registry = registryOf(options);
  const duration = new Histogram({
    name: 'tributary_command_seconds',
    help: 'Duration of CommandBus.execute (validation, load, decide, append, retries), by command type and result (ok or the error code).',
    labelNames: ['command', 'result'] as const,
    buckets: WRITE_BUCKETS,
    registers: [registry],
  });
  const { instrumentation } = options;
  return handleOf(
    registry,
    [duration],
    [
      instrumentation.on('command.handled', (event) => {
        duration.observe({ command: event.commandType, result: 'ok' }, seconds(event.durationMs));
      }),
      instrumentation.on('command.failed', (event) => {
        duration.observe(
          { command: event.commandType, result: event.code },
          seconds(event.durationMs),
        );
      }),
    ],
  );
}

/** Options of {@link createEventStoreMetrics}. */
export interface EventStoreMetricsOptions extends MetricsOptions {
  /** The instrumentation given to `instrumentEventStore(store, instrumentation)` of core. */
  readonly instrumentation: Instrumentation<EventStoreInstrumentationEvents>;
}

/**
 * `tributary_eventstore_append_seconds{result}`: duration of each append of an event store
 * wrapped by `instrumentEventStore`; `result` is `appended`, `duplicate` (an idempotent
 * repeat), `conflict` (expected version did not hold) or `error`.
 */
export function createEventStoreMetrics(options: EventStoreMetricsOptions): MetricsHandle {
  const registry = registryOf(options);
  const duration = new Histogram({
    name: 'tributary_eventstore_append_seconds',
    help: 'Duration of event store appends, by result (appended, duplicate, conflict, error).',
    labelNames: ['result'] as const,
    buckets: WRITE_BUCKETS,
    registers: [registry],
  });
  return handleOf(
    registry,
    [duration],
    [
      options.instrumentation.on('eventstore.append', (event) => {
        duration.observe({ result: event.result }, seconds(event.durationMs));
      }),
    ],
  );
}
