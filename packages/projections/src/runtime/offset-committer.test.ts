import { describe, expect, it } from 'vitest';
import { BackgroundOffsetCommitter } from './offset-committer.js';

describe('BackgroundOffsetCommitter', () => {
  it('keeps one commit in flight per partition, coalesces the ones behind it and never goes backwards', async () => {
    const sent: string[] = [];
    const release: (() => void)[] = [];
    const committer = new BackgroundOffsetCommitter({
      commit: (topic, partition, offset) => {
        sent.push(`${topic}/${partition}@${offset}`);
        return new Promise((resolve) => release.push(resolve));
      },
      onError: () => undefined,
    });
    committer.commit('t', 0, 10n);
    committer.commit('t', 0, 20n);
    committer.commit('t', 0, 30n);
    committer.commit('t', 1, 5n);
    // Partition 0 has one commit in flight; partition 1 runs independently.
    expect(sent).toEqual(['t/0@10', 't/1@5']);
    release.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    // 20 was replaced by 30 while 10 was in flight.
    expect(sent).toEqual(['t/0@10', 't/1@5', 't/0@30']);
  });

  it('reports a failed commit and carries on with the next one', async () => {
    const errors: string[] = [];
    let calls = 0;
    const committer = new BackgroundOffsetCommitter({
      commit: () => {
        calls += 1;
        return calls === 1 ? Promise.reject(new Error('broker away')) : Promise.resolve();
      },
      onError: (topic, partition, error) => errors.push(`${topic}/${partition}: ${String(error)}`),
    });
    committer.commit('t', 3, 1n);
    await new Promise((resolve) => setImmediate(resolve));
    committer.commit('t', 3, 2n);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toEqual(['t/3: Error: broker away']);
    expect(calls).toBe(2);
  });
});
