import { describe, expect, it } from 'vitest';
import { kafkaClientName } from './kafka-client.js';
import { UsageError } from './output.js';

describe('kafkaClientName', () => {
  it('defaults to kafkajs when no source sets a client', () => {
    expect(
      kafkaClientName({ value: undefined, source: '--kafka-client' }, { value: '', source: 'env' }),
    ).toBe('kafkajs');
  });

  it('takes the first source that sets one (flags, then environment, then file)', () => {
    expect(
      kafkaClientName(
        { value: undefined, source: '--kafka-client' },
        { value: 'platformatic', source: 'TRIBUTARY_KAFKA_CLIENT' },
        { value: 'kafkajs', source: 'kafka.client' },
      ),
    ).toBe('platformatic');
  });

  it('rejects an unknown client, naming where it came from and what is accepted', () => {
    const call = () =>
      kafkaClientName(
        { value: 'rdkafka', source: 'TRIBUTARY_KAFKA_CLIENT' },
        { value: 'kafkajs', source: 'file' },
      );
    expect(call).toThrow(UsageError);
    expect(call).toThrow(
      'TRIBUTARY_KAFKA_CLIENT must be one of kafkajs, platformatic, not "rdkafka"',
    );
  });

  it('rejects a config file value that is not a string', () => {
    expect(() => kafkaClientName({ value: 3, source: 'kafka.client in c.json' })).toThrow(
      'kafka.client in c.json must be one of kafkajs, platformatic, not 3',
    );
  });
});
