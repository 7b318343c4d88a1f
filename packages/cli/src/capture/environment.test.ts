import { describe, expect, it } from 'vitest';
import { captureConfigFromEnvironment, mergeCaptureConfigInputs } from './environment.js';

describe('capture settings from the environment and config files', () => {
  it('reads environment variables, leaving unset ones alone', () => {
    const input = captureConfigFromEnvironment({
      DATABASE_URL: 'postgres://env/db',
      KAFKA_BROKERS: 'a:1, b:2',
      TRIBUTARY_CAPTURE_NAME: 'orders',
      TRIBUTARY_CREATE_SLOT: 'false',
      TRIBUTARY_BATCH_MAX_EVENTS: '500',
      TRIBUTARY_CHUNK_MAX_EVENTS: '2000',
      TRIBUTARY_CHUNK_MAX_BYTES: '4194304',
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
      batch: { maxEvents: 500, chunkMaxEvents: 2000, chunkMaxBytes: 4194304 },
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
