import { describe, expect, it } from 'vitest';
import { resolveCaptureConfig } from './config.js';
import { isCaptureError } from './errors.js';

const minimal = { databaseUrl: 'postgres://db/app', kafka: { brokers: ['k:9092'] } };

describe('capture configuration', () => {
  it('fills in the documented defaults', () => {
    const config = resolveCaptureConfig(minimal);
    expect(config.name).toBe('default');
    expect(config.slot).toEqual({
      name: 'tributary_default',
      publication: 'tributary_default',
      create: true,
      createPublication: true,
    });
    expect(config.outbox.schema).toBe('tributary');
    expect(config.outbox.eventsTable).toBe('events');
    expect(config.router.topicPrefix).toBe('events');
    expect(config.router.topicReplacement).toBe('${prefix}.${routedByValue}');
    expect(config.router.routeByColumn).toBe('aggregate_type');
    expect(config.router.onUnroutable).toBe('fatal');
    expect(config.topics).toMatchObject({
      partitions: 3,
      checkpointTopic: 'tributary.capture.checkpoints',
      transactionTopic: null,
    });
    expect(config.kafka).toMatchObject({
      clientId: 'tributary-capture-default',
      retryInitialMs: 5,
    });
    expect(config.batch).toEqual({
      maxEvents: 10_000,
      maxBytes: 16 * 1024 * 1024,
      lingerMs: 5,
      maxRequestBytes: 900 * 1024,
      quietLingerMs: 1_000,
      chunkMaxEvents: 10_000,
      chunkMaxBytes: 16 * 1024 * 1024,
    });
    expect(config.heartbeatIntervalMs).toBe(10_000);
    expect(config.walSenderTimeoutMs).toBeNull();
  });

  it('derives slot, publication and client id from the name', () => {
    const config = resolveCaptureConfig({ ...minimal, name: 'billing' });
    expect(config.slot.name).toBe('tributary_billing');
    expect(config.slot.publication).toBe('tributary_billing');
    expect(config.kafka.clientId).toBe('tributary-capture-billing');
  });

  it('lists every problem at once', () => {
    let caught: unknown;
    try {
      resolveCaptureConfig({
        name: 'Bad-Name',
        batch: { maxEvents: 0, lingerMs: -1 },
        router: { onUnroutable: 'ignore' as 'warn', topicReplacement: 'fixed' },
        outbox: { schema: 'Robert"; drop' },
      });
    } catch (error) {
      caught = error;
    }
    expect(isCaptureError(caught, 'CAPTURE_CONFIG_INVALID')).toBe(true);
    const message = (caught as Error).message;
    for (const part of [
      'name "Bad-Name"',
      'databaseUrl is required',
      'kafka.brokers is required',
      'batch.maxEvents must be a positive integer',
      'batch.lingerMs must be a non-negative integer',
      'router.onUnroutable must be warn, error or fatal',
      'router.topicReplacement must contain ${routedByValue}',
      'Invalid schema',
    ]) {
      expect(message).toContain(part);
    }
  });
});
