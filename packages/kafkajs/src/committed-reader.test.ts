import { describe, expect, it } from 'vitest';
import { committedRecordsOf } from './committed-reader.js';
import type { KafkajsFetchedBatch } from './internal/batch-fetch.js';

const batch = (
  firstOffset: number,
  lastOffsetDelta: number,
  records: { offset: number; value?: string; control?: 'commit' | 'abort' }[],
  transactional = false,
): KafkajsFetchedBatch => {
  const control = records.some((record) => record.control !== undefined);
  return {
    firstOffset: String(firstOffset),
    lastOffsetDelta,
    producerId: '7',
    inTransaction: transactional,
    isControlBatch: control,
    records: records.map((record) => ({
      offset: String(record.offset),
      key:
        record.control === undefined
          ? Buffer.from('k')
          : Buffer.from([0, 0, 0, record.control === 'commit' ? 1 : 0]),
      value: record.value === undefined ? null : Buffer.from(record.value),
      isControlRecord: record.control !== undefined,
    })),
  };
};

/** A log as a broker serves it: each fetch returns the batches of one segment from the offset on. */
const serve =
  (segments: KafkajsFetchedBatch[][]) =>
  (offset: bigint): Promise<KafkajsFetchedBatch[]> => {
    for (const segment of segments) {
      const from = segment.filter(
        (entry) => BigInt(entry.firstOffset) + BigInt(entry.lastOffsetDelta) >= offset,
      );
      if (from.length > 0) return Promise.resolve(from);
    }
    return Promise.resolve([]);
  };

const values = (records: { value: Uint8Array | null }[]): string[] =>
  records.map((record) => Buffer.from(record.value ?? []).toString());

describe('committedRecordsOf (kafkajs readCommitted, one partition)', () => {
  it('moves past a compacted batch whose surviving records lie before the read position', async () => {
    // Offsets 0–2 were one batch; compaction kept a@0 and the batch's last offset 2, and it
    // ends its segment. Reading on from offset 1 returns this batch again, with no record.
    const log = serve([
      [batch(0, 2, [{ offset: 0, value: 'a1' }])],
      [
        batch(3, 1, [
          { offset: 3, value: 'b2' },
          { offset: 4, value: 'c2' },
        ]),
      ],
    ]);
    const read = await committedRecordsOf(log, 't', 0, { from: 0n, to: 5n });
    expect(values(read)).toEqual(['a1', 'b2', 'c2']);
  });

  it('moves past an empty batch kept for its producer state at the end of a segment', async () => {
    const log = serve([
      [
        batch(0, 0, [{ offset: 0, value: 'v1' }], true),
        batch(1, 0, [{ offset: 1, control: 'commit' }], true),
        // An aborted transaction's data, emptied by the cleaner (its marker expired).
        batch(2, 1, [], true),
      ],
      [
        batch(4, 0, [{ offset: 4, value: 'v2' }], true),
        batch(5, 0, [{ offset: 5, control: 'commit' }], true),
      ],
    ]);
    const read = await committedRecordsOf(log, 't', 0, { from: 0n, to: 6n });
    expect(values(read)).toEqual(['v1', 'v2']);
    expect(read.map((record) => record.offset)).toEqual([0n, 4n]);
  });

  it('leaves out aborted transactions and transactions still open at the end', async () => {
    const log = serve([
      [
        batch(0, 0, [{ offset: 0, value: 'kept' }], true),
        batch(1, 0, [{ offset: 1, control: 'commit' }], true),
        batch(2, 0, [{ offset: 2, value: 'aborted' }], true),
        batch(3, 0, [{ offset: 3, control: 'abort' }], true),
        batch(4, 0, [{ offset: 4, value: 'open' }], true),
      ],
    ]);
    const read = await committedRecordsOf(log, 't', 0, { from: 0n, to: 5n });
    expect(values(read)).toEqual(['kept']);
  });
});
