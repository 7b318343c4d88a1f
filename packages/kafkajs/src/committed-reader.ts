/**
 * `readCommitted` of the port on kafkajs: every committed record of a topic up to the high
 * watermarks at call time, even past another producer's open transaction.
 *
 * Why not a read_committed consumer: the broker serves read_committed fetches only up to
 * the last stable offset, the first offset of the earliest open transaction. One producer
 * that keeps a transaction open on a shared topic (a capturer of another name mid-batch, or
 * killed mid-batch until its transaction times out) would hide every record committed
 * after it: a reader stopping at the LSO returns a stale checkpoint, one waiting for the
 * high watermark hangs until the other transaction ends.
 *
 * How: fetch read_uncommitted (up to the high watermark, transaction markers included,
 * straight from the partition leaders through kafkajs's internal cluster, no consumer
 * group) and decide each transactional record the way the broker's aborted-transaction
 * index would: a producer's transactional records belong to its open transaction until
 * that producer's COMMIT or ABORT marker. Records whose marker is not below the high
 * watermark were not committed at call time and are left out. Kafka keeps a COMMIT marker
 * while any record of its transaction remains after compaction, so compacted topics read
 * the same.
 */
import {
  KafkaIndeterminateError,
  type KafkaRecord,
  type KafkaReadOptions,
  withTimeout,
} from '@tributary/core';
import type { Kafka } from 'kafkajs';
import {
  KafkajsAdmin,
  READ_UNCOMMITTED,
  uncommittedCluster,
  type KafkajsCluster,
} from './admin.js';
import {
  fetchBatches,
  offsetAfter,
  type KafkajsBatchRecord,
  type KafkajsFetchedBatch,
} from './internal/batch-fetch.js';
import { requestError, translated } from './errors.js';
import { noConnectFailureCheck, type ConnectFailureCheck } from './internal/tls-required.js';

/** Control record type of a COMMIT marker (the key is version int16, type int16). */
const COMMIT = 1;

const FETCH_MAX_BYTES = 1024 * 1024;

/** Reads `topic` as described above; see `KafkaClient.readCommitted`. */
export async function readCommittedRecords(
  kafka: Kafka,
  topic: string,
  onRecord: (record: KafkaRecord) => void,
  options: KafkaReadOptions = {},
  checkConnect: ConnectFailureCheck = noConnectFailureCheck,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const admin = new KafkajsAdmin(kafka, checkConnect);
  await admin.connect();
  const ranges = new Map<number, { from: bigint; to: bigint }>();
  try {
    for (const offsets of await admin.fetchOffsets(topic)) {
      if (offsets.highWatermark > offsets.earliest) {
        ranges.set(offsets.partition, { from: offsets.earliest, to: offsets.highWatermark });
      }
    }
  } finally {
    await admin.disconnect();
  }
  if (ranges.size === 0) return;
  const cluster = uncommittedCluster(kafka);
  /** Where the read is, for the timeout's message. */
  const position = { partition: -1, offset: -1n, end: -1n };
  await translated(
    () => cluster.connect(),
    (error) => requestError(error, 'connecting to read committed records'),
  );
  try {
    await withTimeout(
      translated(
        async () => {
          await cluster.addTargetTopic(topic);
          await cluster.refreshMetadataIfNecessary();
          for (const [partition, range] of [...ranges].sort(([a], [b]) => a - b)) {
            const records = await readPartition(cluster, topic, partition, range, position);
            for (const record of records) onRecord(record);
          }
        },
        (error) => requestError(error, `reading the committed records of ${topic}`),
      ),
      timeoutMs,
      () =>
        new KafkaIndeterminateError(
          `reading ${topic} did not finish within ${timeoutMs} ms (partition ${position.partition} at offset ${position.offset} of ${position.end})`,
        ),
    );
  } finally {
    await cluster.disconnect().catch(() => undefined);
  }
}

async function readPartition(
  cluster: KafkajsCluster,
  topic: string,
  partition: number,
  range: { from: bigint; to: bigint },
  position: { partition: number; offset: bigint; end: bigint },
): Promise<KafkaRecord[]> {
  const leaders = cluster.findLeaderForPartitions(topic, [partition]);
  const nodeId = Object.keys(leaders)[0];
  if (nodeId === undefined) throw new Error(`no leader for ${topic}/${partition}`);
  const broker = await cluster.findBroker({ nodeId });
  position.partition = partition;
  position.end = range.to;
  return committedRecordsOf(
    (offset) => {
      position.offset = offset;
      return fetchBatches(broker, topic, partition, offset, FETCH_MAX_BYTES, READ_UNCOMMITTED ?? 0);
    },
    topic,
    partition,
    range,
  );
}

/**
 * The committed records of one partition in `range`, read with `fetch` (read_uncommitted
 * batches from an offset). Exported for its test.
 */
export async function committedRecordsOf(
  fetch: (offset: bigint) => Promise<readonly KafkajsFetchedBatch[]>,
  topic: string,
  partition: number,
  range: { from: bigint; to: bigint },
): Promise<KafkaRecord[]> {
  const committed: KafkaRecord[] = [];
  /** Records of each producer's transaction whose marker has not been read yet. */
  const open = new Map<string, KafkaRecord[]>();
  let next = range.from;
  while (next < range.to) {
    const batches = await fetch(next);
    let after = next;
    for (const batch of batches) {
      for (const record of batch.records) {
        const offset = BigInt(record.offset);
        // A fetch may return a batch that starts before the offset, and end past the target.
        if (offset < next || offset >= range.to) continue;
        classify(record, batch, offset, topic, partition, committed, open);
      }
      // By the batch, not its records: compaction leaves batches with no record at or
      // after the offset (see internal/batch-fetch.ts).
      const end = offsetAfter(batch);
      if (end > after) after = end;
    }
    next = after;
  }
  // Records of transactions still open at call time are not committed: left out.
  return committed.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}

function classify(
  message: KafkajsBatchRecord,
  batch: KafkajsFetchedBatch,
  offset: bigint,
  topic: string,
  partition: number,
  committed: KafkaRecord[],
  open: Map<string, KafkaRecord[]>,
): void {
  const producerId = batch.producerId;
  if (message.isControlRecord) {
    const pending = open.get(producerId);
    open.delete(producerId);
    const type = message.key !== null && message.key.length >= 4 ? message.key.readInt16BE(2) : -1;
    if (type === COMMIT && pending !== undefined) committed.push(...pending);
    return;
  }
  const record: KafkaRecord = {
    topic,
    partition,
    offset,
    key: message.key,
    value: message.value,
    headers: message.headers ?? {},
  };
  if (!batch.inTransaction) {
    committed.push(record);
    return;
  }
  let pending = open.get(producerId);
  if (pending === undefined) {
    pending = [];
    open.set(producerId, pending);
  }
  pending.push(record);
}
