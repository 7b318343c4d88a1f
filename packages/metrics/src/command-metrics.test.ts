import {
  createInstrumentation,
  type CoreInstrumentationEvents,
  type EventStoreInstrumentationEvents,
} from '@tributary/core';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCommandMetrics, createEventStoreMetrics } from './command-metrics.js';

describe('command and event store metrics', () => {
  it('observes command durations by command and result', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<CoreInstrumentationEvents>();
    createCommandMetrics({ registry, instrumentation });
    instrumentation.emit('command.handled', {
      commandType: 'Open',
      aggregateType: 'Account',
      aggregateId: '1',
      eventCount: 1,
      version: 1,
      attempts: 1,
      durationMs: 4,
      correlationId: 'c',
    });
    instrumentation.emit('command.failed', {
      commandType: 'Open',
      code: 'VALIDATION_FAILED',
      message: 'bad',
      durationMs: 1,
    });
    const text = await registry.metrics();
    expect(text).toContain('tributary_command_seconds_count{command="Open",result="ok"} 1');
    expect(text).toContain(
      'tributary_command_seconds_count{command="Open",result="VALIDATION_FAILED"} 1',
    );
  });

  it('observes append durations by result', async () => {
    const registry = new Registry();
    const instrumentation = createInstrumentation<EventStoreInstrumentationEvents>();
    createEventStoreMetrics({ registry, instrumentation });
    instrumentation.emit('eventstore.append', {
      streams: 1,
      events: 2,
      result: 'conflict',
      durationMs: 3,
    });
    expect(await registry.metrics()).toContain(
      'tributary_eventstore_append_seconds_count{result="conflict"} 1',
    );
  });
});
