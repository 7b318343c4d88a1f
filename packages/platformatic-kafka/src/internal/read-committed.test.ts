import { describe, expect, it } from 'vitest';
import { visibleRecords, type FetchedBatch } from './read-committed.js';

const TRANSACTIONAL = 1 << 4;
const CONTROL = 1 << 5;

/** A transactional data batch of `values`, one record per offset from `firstOffset`. */
const data = (firstOffset: bigint, producerId: bigint, values: string[]): FetchedBatch => ({
  firstOffset,
  lastOffsetDelta: values.length - 1,
  attributes: TRANSACTIONAL,
  producerId,
  records: values.map((value, offsetDelta) => ({
    offsetDelta,
    key: Buffer.from('k'),
    value: Buffer.from(value),
    headers: [],
  })),
});

/** A transaction marker: control key = version (int16) + type (int16, 0 abort, 1 commit). */
const marker = (offset: bigint, producerId: bigint, type: 'abort' | 'commit'): FetchedBatch => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(type === 'abort' ? 0 : 1, 2);
  return {
    firstOffset: offset,
    lastOffsetDelta: 0,
    attributes: TRANSACTIONAL | CONTROL,
    producerId,
    records: [{ offsetDelta: 0, key, value: Buffer.alloc(6), headers: [] }],
  };
};

const values = (
  batches: FetchedBatch[],
  aborted: { producerId: bigint; firstOffset: bigint }[],
  from = 0n,
) => {
  const visible = visibleRecords('t', 0, from, batches, aborted);
  return {
    values: visible.records.map((record) => record.value?.toString()),
    offsets: visible.records.map((record) => record.offset),
    lastOffset: visible.lastOffset,
  };
};

describe('visibleRecords (read_committed)', () => {
  it('drops markers and covers them in lastOffset', () => {
    expect(values([data(0n, 7n, ['a', 'b']), marker(2n, 7n, 'commit')], [])).toEqual({
      values: ['a', 'b'],
      offsets: [0n, 1n],
      lastOffset: 2n,
    });
  });

  it('drops every aborted transaction of a producer id, keeping its committed one in between', () => {
    // A capturer restarted under one transactional id aborts several transactions with the
    // same producer id; the library's own filter remembers only the last of them.
    const batches = [
      data(0n, 7n, ['aborted-1']),
      marker(1n, 7n, 'abort'),
      data(2n, 7n, ['committed']),
      marker(3n, 7n, 'commit'),
      data(4n, 7n, ['aborted-2']),
      marker(5n, 7n, 'abort'),
    ];
    const aborted = [
      { producerId: 7n, firstOffset: 4n },
      { producerId: 7n, firstOffset: 0n },
    ];
    expect(values(batches, aborted)).toEqual({
      values: ['committed'],
      offsets: [2n],
      lastOffset: 5n,
    });
  });

  it('drops an aborted transaction whose abort marker lies beyond the fetched bytes', () => {
    const batches = [data(0n, 3n, ['ok']), marker(1n, 3n, 'commit'), data(2n, 9n, ['aborted'])];
    expect(values(batches, [{ producerId: 9n, firstOffset: 2n }]).values).toEqual(['ok']);
  });

  it('keeps other producers and records before the fetch offset out', () => {
    const batches = [data(0n, 1n, ['a', 'b', 'c']), data(3n, 2n, ['d']), marker(4n, 2n, 'commit')];
    expect(values(batches, [{ producerId: 5n, firstOffset: 0n }], 1n)).toEqual({
      values: ['b', 'c', 'd'],
      offsets: [1n, 2n, 3n],
      lastOffset: 4n,
    });
  });

  it('reports -1 as lastOffset for an empty fetch', () => {
    expect(values([], []).lastOffset).toBe(-1n);
  });
});
