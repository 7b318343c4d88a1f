import { createInstrumentation } from '@tributary/core';
import type { CaptureEvents } from '@tributary/outbox';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCaptureMetrics } from './capture-metrics.js';

const value = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const found = metric?.values.find((v) =>
    Object.entries(labels).every(([key, label]) => String(v.labels[key]) === label),
  );
  return found?.value;
};

const committed = (
  transactions: number,
  topics: Record<string, number>,
): CaptureEvents['capture.batch.committed'] => ({
  events: Object.values(topics).reduce((a, b) => a + b, 0),
  transactions,
  bytes: 100,
  checkpoint: '0/1',
  durationMs: 20,
  committedAtMs: 0,
  commitTimesMicros: [],
  eventsPerTransaction: [],
  eventsPerTopic: new Map(Object.entries(topics)),
});

describe('capture metrics', () => {
  it('counts events per topic and transactions from committed batches', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<CaptureEvents>();
    createCaptureMetrics({ registry, instrumentation });
    instrumentation.emit('capture.batch.committed', committed(2, { 'events.A': 3, 'events.B': 1 }));
    instrumentation.emit('capture.batch.committed', committed(1, { 'events.A': 2 }));
    expect(await value(registry, 'tributary_capture_events_total', { topic: 'events.A' })).toBe(5);
    expect(await value(registry, 'tributary_capture_events_total', { topic: 'events.B' })).toBe(1);
    expect(await value(registry, 'tributary_capture_transactions_total')).toBe(3);
    expect(await registry.metrics()).toContain('tributary_capture_kafka_commit_seconds_count 2');
  });

  it('reports the age of the oldest accepted, unpublished commit, and 0 once it is published', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<CaptureEvents>();
    let now = 10_000;
    createCaptureMetrics({ registry, instrumentation, now: () => now });
    expect(await value(registry, 'tributary_capture_lag_seconds')).toBe(0);
    const accept = (ms: number) =>
      instrumentation.emit('capture.transaction.accepted', {
        commitLsn: '0/1',
        commitTimeMicros: BigInt(ms) * 1000n,
        events: 1,
      });
    accept(7_000);
    accept(9_000);
    expect(await value(registry, 'tributary_capture_lag_seconds')).toBe(3);
    instrumentation.emit('capture.batch.committed', committed(1, { t: 1 }));
    now = 12_000;
    expect(await value(registry, 'tributary_capture_lag_seconds')).toBe(3);
    instrumentation.emit('capture.batch.committed', committed(1, { t: 1 }));
    expect(await value(registry, 'tributary_capture_lag_seconds')).toBe(0);
    accept(11_000);
    instrumentation.emit('capture.pipeline.restarting', { error: 'x', code: null, delayMs: 1 });
    // The source sends those transactions again after the restart; they are accepted anew.
    expect(await value(registry, 'tributary_capture_lag_seconds')).toBe(0);
  });

  it('tracks active/standby, restarts by reason and the retained WAL', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<CaptureEvents>();
    createCaptureMetrics({ registry, instrumentation });
    expect(await value(registry, 'tributary_capture_active')).toBe(0);
    instrumentation.emit('capture.slot.acquired', { slot: 's', confirmedLsn: '0/1' });
    expect(await value(registry, 'tributary_capture_active')).toBe(1);
    instrumentation.emit('capture.progress', { retainedWalBytes: 4096, walLagBytes: 10 });
    expect(await value(registry, 'tributary_capture_slot_retained_wal_bytes')).toBe(4096);
    instrumentation.emit('capture.pipeline.restarting', {
      error: 'boom',
      code: 'KAFKA_INDETERMINATE',
      delayMs: 10,
    });
    instrumentation.emit('capture.pipeline.restarting', { error: 'boom', code: null, delayMs: 10 });
    expect(await value(registry, 'tributary_capture_active')).toBe(0);
    expect(
      await value(registry, 'tributary_capture_restarts_total', { reason: 'KAFKA_INDETERMINATE' }),
    ).toBe(1);
    expect(await value(registry, 'tributary_capture_restarts_total', { reason: 'UNKNOWN' })).toBe(
      1,
    );
    instrumentation.emit('capture.standby', { slot: 's', activePid: 1 });
    expect(await value(registry, 'tributary_capture_active')).toBe(0);
  });

  it('dispose unsubscribes and unregisters, so a second set can be registered', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<CaptureEvents>();
    const handle = createCaptureMetrics({ registry, instrumentation });
    handle.dispose();
    expect(instrumentation.hasListeners('capture.batch.committed')).toBe(false);
    expect(await registry.getMetricsAsJSON()).toEqual([]);
    createCaptureMetrics({ registry, instrumentation });
    expect((await registry.getMetricsAsJSON()).length).toBe(7);
  });
});
