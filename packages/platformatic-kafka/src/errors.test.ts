import { isKafkaProducerFencedError } from '@tributary/core';
import { MultipleErrors, ProtocolError, ResponseError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { kafkaErrorNames, producerError, requestError } from './errors.js';

/** A failure as the library's retrier reports it: attempts wrapping a response's errors. */
const retried = (code: string): Error =>
  new MultipleErrors('endTransaction failed 2 times.', [
    new ProtocolError('CONCURRENT_TRANSACTIONS'),
    new ResponseError(26, 3, { '/': [code === 'PRODUCER_FENCED' ? 90 : 47, null] }, {}),
  ]);

describe('error translation', () => {
  it('finds protocol error names in nested aggregates', () => {
    expect([...kafkaErrorNames(retried('PRODUCER_FENCED'))].sort()).toEqual([
      'CONCURRENT_TRANSACTIONS',
      'PRODUCER_FENCED',
    ]);
  });

  it.each(['PRODUCER_FENCED', 'INVALID_PRODUCER_EPOCH'])(
    'makes %s a non-retriable fencing error of a transactional producer',
    (code) => {
      const error = producerError(retried(code), 'capture-1', 'committing');
      expect(isKafkaProducerFencedError(error)).toBe(true);
      expect((error as { retriable?: boolean }).retriable).toBe(false);
    },
  );

  it('makes any other producer failure indeterminate and retriable', () => {
    const error = producerError(new Error('socket hang up'), 'capture-1', 'committing');
    expect(error).toMatchObject({ code: 'KAFKA_INDETERMINATE', retriable: true });
    expect(error.message).toContain('committing failed: socket hang up');
  });

  it('reports an unknown topic as KAFKA_UNKNOWN_TOPIC', () => {
    const unknown = new ResponseError(3, 12, { '/topics/0': [3, null] }, {});
    expect(requestError(unknown, 'subscribing')).toMatchObject({
      code: 'KAFKA_UNKNOWN_TOPIC',
      retriable: true,
    });
  });
});
