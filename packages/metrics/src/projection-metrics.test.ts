import { createInstrumentation } from '@tributary/core';
import type { ProjectionInstrumentationEvents } from '@tributary/projections';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createProjectionMetrics, type ProjectionLagSnapshot } from './projection-metrics.js';

const values = async (registry: Registry, name: string) =>
  (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? [];

const batch = (
  overrides: Partial<ProjectionInstrumentationEvents['projection.batch.committed']>,
): ProjectionInstrumentationEvents['projection.batch.committed'] => ({
  projection: 'counter',
  version: 1,
  topic: 'events.Counter',
  partition: 0,
  records: 3,
  applied: 3,
  skipped: 0,
  parked: 0,
  deadLettered: 0,
  nextOffset: 3,
  durationMs: 40,
  attempts: 1,
  committedAtMs: 10_000,
  occurredAtMs: [9_000, 9_500, 9_990],
  ...overrides,
});

describe('projection metrics', () => {
  it('counts applied events and observes end-to-end age and batch duration', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<ProjectionInstrumentationEvents>();
    createProjectionMetrics({ registry, instrumentation });
    instrumentation.emit('projection.batch.committed', batch({}));
    instrumentation.emit('projection.batch.committed', batch({ applied: 2, occurredAtMs: [] }));
    const applied = await values(registry, 'tributary_projection_events_applied_total');
    expect(applied).toEqual([
      expect.objectContaining({ value: 5, labels: { projection: 'counter' } }),
    ]);
    const text = await registry.metrics();
    expect(text).toContain('tributary_projection_event_age_seconds_count{projection="counter"} 3');
    expect(text).toMatch(
      /tributary_projection_event_age_seconds_sum\{projection="counter"\} 1\.51\d*\n/,
    );
    // 1 s and 0.5 s are above the 0.25 bucket, 0.01 s is within it.
    expect(text).toContain(
      'tributary_projection_event_age_seconds_bucket{le="0.25",projection="counter"} 1',
    );
    expect(text).toContain('tributary_projection_batch_seconds_count{projection="counter"} 2');
  });

  it('counts retries and dead letters per projection', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<ProjectionInstrumentationEvents>();
    createProjectionMetrics({ registry, instrumentation });
    instrumentation.emit('projection.partitions.assigned', {
      projection: 'p',
      version: 1,
      partitions: [],
    });
    expect(await values(registry, 'tributary_projection_dead_letters_total')).toEqual([
      expect.objectContaining({ value: 0, labels: { projection: 'p' } }),
    ]);
    const position = { topic: 't', partition: 0, offset: 1 };
    instrumentation.emit('projection.batch.retry', {
      projection: 'p',
      topic: 't',
      partition: 0,
      attempt: 1,
      delayMs: 1,
      error: new Error('x'),
    });
    instrumentation.emit('projection.event.dead-lettered', {
      projection: 'p',
      topic: 't',
      position,
      error: new Error('x'),
    });
    expect((await values(registry, 'tributary_projection_retries_total'))[0]?.value).toBe(1);
    expect((await values(registry, 'tributary_projection_dead_letters_total'))[0]?.value).toBe(1);
  });

  it('reads lag and parked events from the status at scrape time, once per scrape', async () => {
    const registry = new Registry();
    let reads = 0;
    let statuses: ProjectionLagSnapshot[] = [
      {
        projection: 'p',
        parkedEvents: 2,
        partitions: [
          { topic: 'events.A', partition: 0, lag: 5 },
          { topic: 'events.A', partition: 1, lag: 0 },
        ],
      },
    ];
    createProjectionMetrics({
      registry,
      instrumentation: createInstrumentation<ProjectionInstrumentationEvents>(),
      status: () => {
        reads += 1;
        return Promise.resolve(statuses);
      },
    });
    const text = await registry.metrics();
    expect(reads).toBe(1);
    expect(text).toContain(
      'tributary_projection_lag_records{projection="p",topic="events.A",partition="0"} 5',
    );
    expect(text).toContain('tributary_projection_parked_events{projection="p"} 2');
    statuses = [{ projection: 'p', parkedEvents: 0, partitions: [] }];
    await new Promise((resolve) => setTimeout(resolve, 300));
    const next = await registry.metrics();
    expect(next).not.toContain('tributary_projection_lag_records{');
    expect(next).toContain('tributary_projection_parked_events{projection="p"} 0');
  });
});
