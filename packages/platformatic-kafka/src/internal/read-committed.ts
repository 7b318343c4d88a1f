/**
 * One fetched partition → the port's records, `read_committed`. The broker stops a
 * read_committed fetch at the last stable offset but still returns aborted transactions'
 * records, listing the aborted transactions beside them; the client must drop them. The
 * library's own filter keeps an aborted transaction whose abort marker lies beyond the
 * fetched bytes and remembers one aborted transaction per producer id (a capturer restarted
 * under the same transactional id aborts several), so this follows the Java consumer instead.
 */
import type { KafkaRecord } from '@tributary/core';
import { toRecord } from './records.js';

/** The parts of a record batch this reads (the library's `RecordsBatch`). */
export interface FetchedBatch {
  readonly firstOffset: bigint;
  readonly lastOffsetDelta: number;
  readonly attributes: number;
  readonly producerId: bigint;
  readonly records: readonly {
    readonly offsetDelta: number;
    readonly key: Buffer | null;
    readonly value: Buffer | null;
    readonly headers: readonly (readonly [Buffer | null, Buffer | null])[];
  }[];
}

/** An aborted transaction as the fetch response lists it. */
export interface AbortedTransaction {
  readonly producerId: bigint;
  readonly firstOffset: bigint;
}

/** What one fetched partition yields. */
export interface VisibleRecords {
  /** Committed records at or after the fetch offset, in offset order. */
  readonly records: KafkaRecord[];
  /** Offset of the last log entry covered (markers and aborted records included); -1 if none. */
  readonly lastOffset: bigint;
}

const IS_TRANSACTIONAL = 1 << 4;
const IS_CONTROL = 1 << 5;
/** Control record key: version (int16), then type (int16): 0 = abort, 1 = commit. */
const ABORT_MARKER = 0;

/** Drops control batches and aborted transactions' batches, and records before `fetchOffset`. */
export function visibleRecords(
  topic: string,
  partition: number,
  fetchOffset: bigint,
  batches: readonly FetchedBatch[],
  aborted: readonly AbortedTransaction[],
): VisibleRecords {
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedProducers = new Set<bigint>();
  const records: KafkaRecord[] = [];
  let lastOffset = -1n;
  for (const batch of batches) {
    const batchLastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
    lastOffset = batchLastOffset;
    if (batch.producerId >= 0n) {
      // Transactions that began at or before this batch are in force from here on.
      while (pending.length > 0 && (pending[0]?.firstOffset ?? 0n) <= batchLastOffset) {
        const next = pending.shift();
        if (next !== undefined) abortedProducers.add(next.producerId);
      }
    }
    if ((batch.attributes & IS_CONTROL) !== 0) {
      const key = batch.records[0]?.key;
      if (
        key !== null &&
        key !== undefined &&
        key.length >= 4 &&
        key.readInt16BE(2) === ABORT_MARKER
      )
        abortedProducers.delete(batch.producerId);
      continue;
    }
    if ((batch.attributes & IS_TRANSACTIONAL) !== 0 && abortedProducers.has(batch.producerId))
      continue;
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta);
      if (offset < fetchOffset) continue;
      records.push(toRecord(topic, partition, offset, record.key, record.value, record.headers));
    }
  }
  return { records, lastOffset };
}
