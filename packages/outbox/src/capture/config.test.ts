import { describe, expect, it } from 'vitest';
import {
  captureConfigFromEnvironment,
  mergeCaptureConfigInputs,
  resolveCaptureConfig,
} from './config.js';
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

  it('reads environment variables, leaving unset ones alone', () => {
    const input = captureConfigFromEnvironment({
      DATABASE_URL: 'postgres://env/db',
      KAFKA_BROKERS: 'a:1, b:2',
      TRIBUTARY_CAPTURE_NAME: 'orders',
      TRIBUTARY_CREATE_SLOT: 'false',
      TRIBUTARY_BATCH_MAX_EVENTS: '500',
      TRIBUTARY_TRANSACTION_TOPIC: 'tx',
      TRIBUTARY_WAL_SENDER_TIMEOUT_MS: '5000',
      TRIBUTARY_UNROUTABLE: 'warn',
    });
    expect(input).toEqual({
      databaseUrl: 'postgres://env/db',
      name: 'orders',
      kafka: { brokers: ['a:1', 'b:2'] },
      slot: { create: false, createPublication: false },
      topics: { transactionTopic: 'tx' },
      router: { onUnroutable: 'warn' },
      batch: { maxEvents: 500 },
      walSenderTimeoutMs: 5000,
    });
    expect(captureConfigFromEnvironment({})).toEqual({});
  });

  it('rejects malformed environment values', () => {
    expect(() => captureConfigFromEnvironment({ TRIBUTARY_BATCH_MAX_EVENTS: 'many' })).toThrow(
      /not an integer/,
    );
    expect(() => captureConfigFromEnvironment({ TRIBUTARY_CREATE_SLOT: 'maybe' })).toThrow(
      /not true or false/,
    );
  });

  it('merges file, environment and flags one level deep, later winning', () => {
    const merged = mergeCaptureConfigInputs(
      {
        name: 'file',
        kafka: { brokers: ['file:1'], clientId: 'from-file' },
        router: { topicPrefix: 'p', columns: { payload: 'body', eventId: 'id' } },
      },
      { kafka: { brokers: ['env:1'] }, router: { columns: { payload: 'data' } } },
      { name: 'flag' },
    );
    expect(merged).toEqual({
      name: 'flag',
      kafka: { brokers: ['env:1'], clientId: 'from-file' },
      router: { topicPrefix: 'p', columns: { payload: 'data', eventId: 'id' } },
    });
  });
});
