import { describe, expect, it } from 'vitest';
import type { KafkaTopicPartitionOffset } from '@tributary/core';
import { LagOffsetCommitter } from './lag-offsets.js';

/** A consumer whose commit requests stay open until the test settles them. */
function slowConsumer() {
  const requests: { offsets: KafkaTopicPartitionOffset[]; settle: (error?: Error) => void }[] = [];
  return {
    requests,
    commitOffsets: (offsets: readonly KafkaTopicPartitionOffset[]) =>
      new Promise<void>((resolve, reject) => {
        requests.push({
          offsets: [...offsets],
          settle: (error) => (error === undefined ? resolve() : reject(error)),
        });
      }),
  };
}

const at = (partition: number, offset: number): KafkaTopicPartitionOffset => ({
  topic: 't',
  partition,
  offset: BigInt(offset),
});
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('LagOffsetCommitter', () => {
  it('keeps one request in flight and sends the newest offset per partition next', async () => {
    const consumer = slowConsumer();
    const committer = new LagOffsetCommitter(consumer, () => undefined);
    committer.commit(at(0, 10));
    committer.commit(at(1, 5));
    await tick();
    expect(consumer.requests.map((r) => r.offsets)).toEqual([[at(0, 10), at(1, 5)]]);
    committer.commit(at(0, 20));
    committer.commit(at(0, 30));
    await tick();
    expect(consumer.requests).toHaveLength(1);
    consumer.requests[0]?.settle();
    await tick();
    expect(consumer.requests.map((r) => r.offsets)).toEqual([[at(0, 10), at(1, 5)], [at(0, 30)]]);
    let flushed = false;
    void committer.flush().then(() => (flushed = true));
    await tick();
    expect(flushed).toBe(false);
    consumer.requests[1]?.settle();
    await tick();
    expect(flushed).toBe(true);
  });

  it('reports a failed commit and carries on with the next offsets', async () => {
    const consumer = slowConsumer();
    const errors: unknown[] = [];
    const committer = new LagOffsetCommitter(consumer, (error) => errors.push(error));
    committer.commit(at(0, 1));
    await tick();
    committer.commit(at(0, 2));
    consumer.requests[0]?.settle(new Error('REBALANCE_IN_PROGRESS'));
    await tick();
    expect(errors).toEqual([new Error('REBALANCE_IN_PROGRESS')]);
    expect(consumer.requests[1]?.offsets).toEqual([at(0, 2)]);
    consumer.requests[1]?.settle();
    await committer.flush();
    expect(consumer.requests).toHaveLength(2);
  });
});
