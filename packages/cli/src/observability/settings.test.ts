import { describe, expect, it } from 'vitest';
import { UsageError } from '../output.js';
import { observabilitySettingsFrom } from './settings.js';

describe('observabilitySettingsFrom', () => {
  it('is off (undefined) when no port is set anywhere', () => {
    expect(observabilitySettingsFrom({}, {})).toBeUndefined();
    expect(observabilitySettingsFrom({}, { TRIBUTARY_METRICS_PORT: '' })).toBeUndefined();
  });

  it('takes the flag over the environment over the config file, with defaults', () => {
    expect(observabilitySettingsFrom({}, {}, { port: 9100, host: '127.0.0.1' })).toEqual({
      port: 9100,
      host: '127.0.0.1',
      readyMaxLag: 1000,
    });
    expect(
      observabilitySettingsFrom(
        {},
        { TRIBUTARY_METRICS_PORT: '9200', TRIBUTARY_READY_MAX_LAG: '5' },
        { port: 9100 },
      ),
    ).toEqual({ port: 9200, host: '0.0.0.0', readyMaxLag: 5 });
    expect(
      observabilitySettingsFrom(
        { 'metrics-port': '9300', 'metrics-host': '::1' },
        { TRIBUTARY_METRICS_PORT: '9200', TRIBUTARY_METRICS_HOST: '127.0.0.1' },
      ),
    ).toEqual({ port: 9300, host: '::1', readyMaxLag: 1000 });
  });

  it('rejects a malformed port naming where it came from', () => {
    expect(() => observabilitySettingsFrom({ 'metrics-port': 'abc' }, {})).toThrow(
      new UsageError('--metrics-port must be an integer from 0 to 65535, not abc'),
    );
    expect(() => observabilitySettingsFrom({}, { TRIBUTARY_METRICS_PORT: '70000' })).toThrow(
      /TRIBUTARY_METRICS_PORT must be an integer from 0 to 65535, not 70000/,
    );
    expect(() => observabilitySettingsFrom({}, {}, { port: -1 })).toThrow(
      /metrics.port of the config file/,
    );
  });
});
