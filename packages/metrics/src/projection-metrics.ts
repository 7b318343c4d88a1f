import type { Instrumentation } from '@tributary/core';
import type { ProjectionInstrumentationEvents } from '@tributary/projections';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  handleOf,
  registryOf,
  seconds,
  type MetricsHandle,
  type MetricsOptions,
} from './registry.js';

/**
 * What the lag and parked gauges show for one projection: the shape of `projectionStatus`
 * of `@tributary/projections` (database checkpoints against read_committed end offsets).
 */
export interface ProjectionLagSnapshot {
  readonly projection: string;
  readonly partitions: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly lag: number;
  }[];
  readonly parkedEvents: number;
}

/** Options of {@link createProjectionMetrics}. */
export interface ProjectionMetricsOptions extends MetricsOptions {
  /** The runtime's instrumentation (`runtime.instrumentation`). */
  readonly instrumentation: Instrumentation<ProjectionInstrumentationEvents>;
  /**
   * Read at each scrape for `tributary_projection_lag_records` and
   * `tributary_projection_parked_events` (e.g. `projectionStatus` of the projections this
   * process runs). Without it those two gauges stay empty. When it fails, the gauges keep
   * the values of the last successful read.
   */
  readonly status?: () => Promise<readonly ProjectionLagSnapshot[]>;
}

/**
 * The projection metrics (`tributary_projection_*`, see docs/observability.md): counters and
 * histograms from the applier's instrumentation events, lag and parked events from
 * `status` when Prometheus scrapes.
 */
export function createProjectionMetrics(options: ProjectionMetricsOptions): MetricsHandle {
  const registry = registryOf(options);
  const registers = [registry];
  const labelNames = ['projection'] as const;
  const applied = new Counter({
    name: 'tributary_projection_events_applied_total',
    help: 'Events applied to the read model (handler ran in a committed transaction).',
    labelNames,
    registers,
  });
  const age = new Histogram({
    name: 'tributary_projection_event_age_seconds',
    help: "End-to-end lag: commit of the projection transaction minus the event's occurred-at.",
    labelNames,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
    registers,
  });
  const batchSeconds = new Histogram({
    name: 'tributary_projection_batch_seconds',
    help: 'Duration of applying one partition batch, retries included, up to its commit.',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const deadLetters = new Counter({
    name: 'tributary_projection_dead_letters_total',
    help: 'Events sent to the dead-letter topic.',
    labelNames,
    registers,
  });
  const retries = new Counter({
    name: 'tributary_projection_retries_total',
    help: 'Batch retries after a failure (rolled back, applied again).',
    labelNames,
    registers,
  });

  let snapshot: Promise<void> | undefined;
  // Both gauges read one status per scrape: the first collect starts it, the second joins.
  const refresh = (): Promise<void> => {
    const read = options.status;
    if (read === undefined) return Promise.resolve();
    snapshot ??= read()
      .then((statuses) => {
        lag.reset();
        parked.reset();
        for (const status of statuses) {
          parked.set({ projection: status.projection }, status.parkedEvents);
          for (const { topic, partition, lag: records } of status.partitions) {
            lag.set(
              { projection: status.projection, topic, partition: String(partition) },
              records,
            );
          }
        }
      })
      .catch(() => undefined)
      .finally(() => {
        setTimeout(() => {
          snapshot = undefined;
        }, 250).unref();
      });
    return snapshot;
  };
  const lag: Gauge<'projection' | 'topic' | 'partition'> = new Gauge({
    name: 'tributary_projection_lag_records',
    help: 'Records not yet applied: end offset (read_committed) minus the stored checkpoint.',
    labelNames: ['projection', 'topic', 'partition'] as const,
    registers,
    collect: refresh,
  });
  const parked: Gauge<'projection'> = new Gauge({
    name: 'tributary_projection_parked_events',
    help: 'Events parked (their aggregate waits for `tributary parked replay`).',
    labelNames,
    registers,
    collect: refresh,
  });

  const { instrumentation } = options;
  return handleOf(
    registry,
    [applied, age, batchSeconds, deadLetters, retries, lag, parked],
    [
      instrumentation.on('projection.batch.committed', (event) => {
        const labels = { projection: event.projection };
        applied.inc(labels, event.applied);
        batchSeconds.observe(labels, seconds(event.durationMs));
        for (const occurredAt of event.occurredAtMs) {
          age.observe(labels, seconds(event.committedAtMs - occurredAt));
        }
      }),
      instrumentation.on('projection.event.dead-lettered', (event) => {
        deadLetters.inc({ projection: event.projection });
      }),
      instrumentation.on('projection.batch.retry', (event) => {
        retries.inc({ projection: event.projection });
      }),
      instrumentation.on('projection.partitions.assigned', (event) => {
        // Show the series at 0 from the start, so rate() and alerts see the first increase.
        const labels = { projection: event.projection };
        applied.inc(labels, 0);
        deadLetters.inc(labels, 0);
        retries.inc(labels, 0);
      }),
    ],
  );
}
