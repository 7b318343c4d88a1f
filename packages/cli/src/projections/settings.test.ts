import { defaultProjectionRuntimeConfig } from '@tributary/projections';
import { describe, expect, it } from 'vitest';
import { PROJECTION_USAGE } from './commands.js';
import { PROJECTION_RUNTIME_SETTINGS, projectionRuntimeConfigFrom } from './settings.js';

describe('projection runtime settings', () => {
  it('gives every runtime setting a flag and an environment name, shown in --help', () => {
    const fields = PROJECTION_RUNTIME_SETTINGS.map((setting) => setting.field);
    const expected = Object.keys(defaultProjectionRuntimeConfig).flatMap((key) =>
      key === 'retry'
        ? Object.keys(defaultProjectionRuntimeConfig.retry).map((field) => `retry.${field}`)
        : [key],
    );
    expect([...fields].sort()).toEqual([...expected].sort());
    for (const setting of PROJECTION_RUNTIME_SETTINGS) {
      expect(PROJECTION_USAGE).toContain(`--${setting.flag} `);
      expect(PROJECTION_USAGE).toContain(`env ${setting.env};`);
    }
    expect(new Set(PROJECTION_RUNTIME_SETTINGS.map((s) => s.env)).size).toBe(fields.length);
  });

  it('reads flags over environment variables, leaving unset settings to the runtime', () => {
    expect(
      projectionRuntimeConfigFrom(
        { 'batch-size': '50', 'session-timeout-ms': '9000', poison: 'park' },
        {
          TRIBUTARY_PROJECTION_BATCH_SIZE: '70',
          TRIBUTARY_PROJECTION_HEARTBEAT_INTERVAL_MS: '900',
          TRIBUTARY_PROJECTION_CONCURRENCY: '2',
          TRIBUTARY_PROJECTION_RETRIES: '0',
          TRIBUTARY_TOPIC_PREFIX: 'app',
          TRIBUTARY_PROJECTION_ORDERING: '',
        },
      ),
    ).toEqual({
      maxBatchRecords: 50,
      sessionTimeoutMs: 9000,
      heartbeatIntervalMs: 900,
      partitionsConsumedConcurrently: 2,
      poison: 'park',
      topicPrefix: 'app',
      retry: { retries: 0 },
    });
    expect(projectionRuntimeConfigFrom({}, {})).toEqual({});
  });

  it('names the flag or variable of a malformed value', () => {
    expect(() => projectionRuntimeConfigFrom({ concurrency: 'many' }, {})).toThrow(
      '--concurrency must be a non-negative integer, not many',
    );
    expect(() =>
      projectionRuntimeConfigFrom({}, { TRIBUTARY_PROJECTION_ORDERING: 'ignore' }),
    ).toThrow('TRIBUTARY_PROJECTION_ORDERING must be fail, park, warn, not ignore');
  });
});
