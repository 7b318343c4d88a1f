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

/**
 * Decides a partition's transactional records from a read_uncommitted fetch, the way the
 * broker's aborted-transaction index would: a producer's transactional records belong to
 * its open transaction until that producer's COMMIT or ABORT marker. Used by
 * `readCommitted`, which must see records committed after another producer's still-open
 * transaction (a read_committed fetch stops at the last stable offset before them).
 * Records of a transaction are released when its COMMIT marker is read; records whose
 * marker is not below `end` (the high watermark at call time) are never released.
 */
export class CommittedRecordCollector {
  readonly #topic: string;
  readonly #partition: number;
  readonly #end: bigint;
  /** Records of each producer's transaction whose marker has not been read yet. */
  readonly #open = new Map<bigint, KafkaRecord[]>();

  constructor(topic: string, partition: number, end: bigint) {
    this.#topic = topic;
    this.#partition = partition;
    this.#end = end;
  }

  /**
   * Takes one fetch's batches (read from `fetchOffset`) and returns the records it commits,
   * in commit order, and the last offset it covered (-1 if none).
   */
  add(
    fetchOffset: bigint,
    batches: readonly FetchedBatch[],
  ): { readonly committed: KafkaRecord[]; readonly lastOffset: bigint } {
    const committed: KafkaRecord[] = [];
    let lastOffset = -1n;
    for (const batch of batches) {
      lastOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta);
      if ((batch.attributes & IS_CONTROL) !== 0) {
        const offset = batch.firstOffset;
        if (offset < fetchOffset || offset >= this.#end) continue;
        const key = batch.records[0]?.key;
        const pending = this.#open.get(batch.producerId) ?? [];
        this.#open.delete(batch.producerId);
        if (
          key !== null &&
          key !== undefined &&
          key.length >= 4 &&
          key.readInt16BE(2) !== ABORT_MARKER
        )
          committed.push(...pending);
        continue;
      }
      const transactional = (batch.attributes & IS_TRANSACTIONAL) !== 0;
      for (const record of batch.records) {
        const offset = batch.firstOffset + BigInt(record.offsetDelta);
        if (offset < fetchOffset || offset >= this.#end) continue;
        const converted = toRecord(
          this.#topic,
          this.#partition,
          offset,
          record.key,
          record.value,
          record.headers,
        );
        if (!transactional) {
          committed.push(converted);
          continue;
        }
        const pending = this.#open.get(batch.producerId);
        if (pending === undefined) this.#open.set(batch.producerId, [converted]);
        else pending.push(converted);
      }
    }
    return { committed, lastOffset };
  }
}
