import { describe, expect, it } from 'vitest';
import { ConcurrencyError, RetriesExhaustedError, ValidationError } from './errors.js';
import { backoffDelay, retry } from './retry.js';

const conflict = (): ConcurrencyError =>
  new ConcurrencyError({ aggregateType: 'A', aggregateId: '1' }, 1, 2);

describe('retry', () => {
  it('retries retriable errors until the operation succeeds', async () => {
    const delays: number[] = [];
    let calls = 0;
    const result = await retry(
      (attempt) => {
        calls += 1;
        return attempt < 3 ? Promise.reject(conflict()) : Promise.resolve('done');
      },
      {
        sleep: (ms) => {
          delays.push(ms);
          return Promise.resolve();
        },
        jitter: 0,
        initialDelayMs: 10,
      },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(delays).toEqual([10, 20]);
  });

  it('rethrows a non-retriable error at once', async () => {
    let calls = 0;
    const failure = new ValidationError('x', []);
    await expect(
      retry(
        () => {
          calls += 1;
          return Promise.reject(failure);
        },
        { sleep: () => Promise.resolve() },
      ),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it('gives up after the configured retries with the last error as cause', async () => {
    const error = await retry(() => Promise.reject(conflict()), {
      retries: 2,
      sleep: () => Promise.resolve(),
      operation: 'append',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(3);
    expect((error as RetriesExhaustedError).cause).toBeInstanceOf(ConcurrencyError);
    expect((error as Error).message).toMatch(/^append failed after 3 attempts/);
  });

  it('grows delays exponentially up to the maximum', () => {
    expect(
      [1, 2, 3, 4, 5].map((attempt) =>
        backoffDelay(attempt, { initialDelayMs: 100, maxDelayMs: 500 }),
      ),
    ).toEqual([100, 200, 400, 500, 500]);
  });
});
