import { describe, expect, it } from 'vitest';
import { singlePartitionBatches } from './single-partition-batches.js';

describe('singlePartitionBatches', () => {
  it('gives each topic partition its own batch, in order, and keeps unpartitioned messages per topic', () => {
    const m = (value: string, partition?: number) => ({
      key: value,
      value,
      ...(partition === undefined ? {} : { partition }),
    });
    const batches = singlePartitionBatches([
      { topic: 'a', messages: [m('a0-1', 0), m('a1-1', 1), m('a0-2', 0), m('x'), m('y')] },
      { topic: 'b', messages: [m('b0-1', 0)] },
      { topic: 'a', messages: [m('a1-2', 1)] },
    ]);
    expect(
      batches.map((batch) => batch.map((t) => [t.topic, t.messages.map((x) => x.value)])),
    ).toEqual([
      [['a', ['a0-1', 'a0-2']]],
      [['a', ['a1-1', 'a1-2']]],
      [['a', ['x', 'y']]],
      [['b', ['b0-1']]],
    ]);
    expect(singlePartitionBatches([])).toEqual([]);
  });
});
