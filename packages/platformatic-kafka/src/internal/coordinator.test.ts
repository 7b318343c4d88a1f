import { kGetConnection, MultipleErrors, NetworkError, ProtocolError } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { requestError } from '../errors.js';
import { CoordinatorAwareConsumer, CoordinatorGoneError, coordinatorLost } from './coordinator.js';

const consumer = (): CoordinatorAwareConsumer =>
  new CoordinatorAwareConsumer({
    clientId: 'coordinator-unit',
    bootstrapBrokers: ['127.0.0.1:1'],
    groupId: 'group-a',
  });

describe('group coordinator loss', () => {
  it('answers a connection to a broker missing from the metadata with a typed, non-retriable error instead of throwing', async () => {
    const client = consumer();
    const error = await new Promise<unknown>((resolve) => {
      // What the library's group operation passes for a coordinator no longer in the metadata.
      client[kGetConnection](undefined, (failure) => {
        resolve(failure);
      });
    });
    await client.close();
    expect(error).toBeInstanceOf(CoordinatorGoneError);
    expect((error as CoordinatorGoneError).canRetry).toBe(false);
    expect((error as Error).message).toContain('group coordinator of group-a');
    expect(coordinatorLost(error)).toBe(true);
  });

  it('recognises a stale coordinator in the retrier aggregates and in translated errors', () => {
    const retried = new MultipleErrors('commit failed 6 times.', [
      new NetworkError('Connection closed'),
      new ProtocolError('NOT_COORDINATOR'),
    ]);
    expect(coordinatorLost(retried)).toBe(true);
    expect(coordinatorLost(new ProtocolError('COORDINATOR_NOT_AVAILABLE'))).toBe(true);
    expect(
      coordinatorLost(requestError(new CoordinatorGoneError('group-a', 3), 'committing')),
    ).toBe(true);
    expect(coordinatorLost(new ProtocolError('REBALANCE_IN_PROGRESS'))).toBe(false);
    expect(coordinatorLost(new NetworkError('Connection closed'))).toBe(false);
  });
});
