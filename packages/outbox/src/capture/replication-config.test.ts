import { describe, expect, it } from 'vitest';
import { resolveCaptureConfig } from './config.js';
import { isCaptureError } from './errors.js';

const minimal = { databaseUrl: 'postgres://db/app', kafka: { brokers: ['k:9092'] } };

const problemsOf = (topics: { replicationFactor?: number; minInsyncReplicas?: number }): string => {
  try {
    resolveCaptureConfig({ ...minimal, topics });
  } catch (error) {
    expect(isCaptureError(error, 'CAPTURE_CONFIG_INVALID')).toBe(true);
    return (error as Error).message;
  }
  return '';
};

describe('capture topic replication settings', () => {
  it('leave both to the broker by default, so one broker works unchanged', () => {
    const { topics } = resolveCaptureConfig(minimal);
    expect(topics.replicationFactor).toBe(-1);
    expect(topics.minInsyncReplicas).toBe(-1);
  });

  it('accept a replicated cluster setting (3 replicas, 2 in sync)', () => {
    const { topics } = resolveCaptureConfig({
      ...minimal,
      topics: { replicationFactor: 3, minInsyncReplicas: 2 },
    });
    expect(topics).toMatchObject({ replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it('refuse 0, and more in-sync replicas than replicas, saying why', () => {
    expect(problemsOf({ minInsyncReplicas: 0 })).toContain(
      'topics.minInsyncReplicas must be -1 or a positive integer',
    );
    expect(problemsOf({ replicationFactor: 2, minInsyncReplicas: 3 })).toContain(
      'topics.minInsyncReplicas (3) must not exceed topics.replicationFactor (2): every acks=all write would fail with NOT_ENOUGH_REPLICAS',
    );
  });
});
