import type { Instrumentation } from '@tributary/core';
import type { CaptureEvents } from '@tributary/outbox';
import { Counter, Gauge, Histogram } from 'prom-client';
import {
  handleOf,
  registryOf,
  seconds,
  type MetricsHandle,
  type MetricsOptions,
} from './registry.js';

/** Options of {@link createCaptureMetrics}. */
export interface CaptureMetricsOptions extends MetricsOptions {
  /** The capturer's instrumentation (`capturer.instrumentation`). */
  readonly instrumentation: Instrumentation<CaptureEvents>;
  /** Wall clock in ms since the epoch (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * The capture metrics (`tributary_capture_*`, see docs/observability.md), fed by the
 * capturer's instrumentation events only.
 *
 * The lag is the age of the oldest source transaction accepted into a batch and not yet
 * committed to Kafka: the accepted transactions wait in a queue in commit order, and each
 * committed batch takes its transactions off the front. A restart empties the queue, since
 * the source sends those transactions again.
 */
export function createCaptureMetrics(options: CaptureMetricsOptions): MetricsHandle {
  const registry = registryOf(options);
  const registers = [registry];
  const now = options.now ?? Date.now;
  // Commit times (ms) of accepted, unpublished transactions; `head` avoids O(n) shifts.
  let pending: number[] = [];
  let head = 0;
  const forget = (): void => {
    pending = [];
    head = 0;
  };

  const events = new Counter({
    name: 'tributary_capture_events_total',
    help: 'Events committed to Kafka by the capturer, by topic.',
    labelNames: ['topic'] as const,
    registers,
  });
  const transactions = new Counter({
    name: 'tributary_capture_transactions_total',
    help: 'Source (PostgreSQL) transactions committed to Kafka by the capturer.',
    registers,
  });
  const commitSeconds = new Histogram({
    name: 'tributary_capture_kafka_commit_seconds',
    help: 'Duration of publishing one batch: the Kafka transaction with its records and checkpoint, up to its commit.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  const retainedWal = new Gauge({
    name: 'tributary_capture_slot_retained_wal_bytes',
    help: 'WAL bytes the replication slot retains (from the active instance, every progress interval).',
    registers,
  });
  const lag = new Gauge({
    name: 'tributary_capture_lag_seconds',
    help: 'Age of the oldest source commit not yet committed to Kafka; 0 when caught up.',
    registers,
    collect() {
      const oldest = pending[head];
      this.set(oldest === undefined ? 0 : seconds(now() - oldest));
    },
  });
  const restarts = new Counter({
    name: 'tributary_capture_restarts_total',
    help: 'Pipeline restarts from the Kafka checkpoint, by reason (the error code).',
    labelNames: ['reason'] as const,
    registers,
  });
  const active = new Gauge({
    name: 'tributary_capture_active',
    help: '1 while this instance holds the slot and streams, 0 while it stands by, starts, restarts or stopped.',
    registers,
  });
  active.set(0);
  transactions.inc(0);

  const { instrumentation } = options;
  return handleOf(
    registry,
    [events, transactions, commitSeconds, retainedWal, lag, restarts, active],
    [
      instrumentation.on('capture.transaction.accepted', (event) => {
        pending.push(Number(event.commitTimeMicros / 1000n));
      }),
      instrumentation.on('capture.batch.committed', (event) => {
        for (const [topic, count] of event.eventsPerTopic) events.inc({ topic }, count);
        transactions.inc(event.transactions);
        commitSeconds.observe(seconds(event.durationMs));
        head = Math.min(head + event.transactions, pending.length);
        if (head === pending.length) forget();
        else if (head > 1024 && head * 2 > pending.length) {
          pending = pending.slice(head);
          head = 0;
        }
      }),
      instrumentation.on('capture.progress', (event) => {
        if (event.retainedWalBytes !== null) retainedWal.set(event.retainedWalBytes);
      }),
      instrumentation.on('capture.slot.acquired', () => {
        forget();
        active.set(1);
      }),
      instrumentation.on('capture.standby', () => {
        forget();
        active.set(0);
      }),
      instrumentation.on('capture.pipeline.restarting', (event) => {
        forget();
        active.set(0);
        restarts.inc({ reason: event.code ?? 'UNKNOWN' });
      }),
      instrumentation.on('capture.stopped', () => {
        forget();
        active.set(0);
      }),
    ],
  );
}
