import { describe, expect, it } from 'vitest';
import { withTimeout } from './timeout.js';

describe('withTimeout', () => {
  it('settles like the promise when it is faster', async () => {
    await expect(withTimeout(Promise.resolve(7), 1_000, () => new Error('late'))).resolves.toBe(7);
    await expect(
      withTimeout(Promise.reject(new Error('own')), 1_000, () => new Error('late')),
    ).rejects.toThrow('own');
  });

  it('rejects with the given error when the time runs out first', async () => {
    const never = new Promise<never>(() => undefined);
    await expect(withTimeout(never, 5, () => new Error('late'))).rejects.toThrow('late');
  });
});
