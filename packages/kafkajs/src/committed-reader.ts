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
  type KafkajsRawRecord,
} from './admin.js';
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
            const records = await readPartition(cluster, topic, partition, range);
            for (const record of records) onRecord(record);
          }
        },
        (error) => requestError(error, `reading the committed records of ${topic}`),
      ),
      timeoutMs,
      () => new KafkaIndeterminateError(`reading ${topic} did not finish within ${timeoutMs} ms`),
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
): Promise<KafkaRecord[]> {
  const leaders = cluster.findLeaderForPartitions(topic, [partition]);
  const nodeId = Object.keys(leaders)[0];
  if (nodeId === undefined) throw new Error(`no leader for ${topic}/${partition}`);
  const broker = await cluster.findBroker({ nodeId });
  const committed: KafkaRecord[] = [];
  /** Records of each producer's transaction whose marker has not been read yet. */
  const open = new Map<string, KafkaRecord[]>();
  let next = range.from;
  while (next < range.to) {
    const response = await broker.fetch({
      isolationLevel: READ_UNCOMMITTED ?? 0,
      maxWaitTime: 100,
      minBytes: 1,
      maxBytes: FETCH_MAX_BYTES,
      topics: [
        {
          topic,
          partitions: [{ partition, fetchOffset: next.toString(), maxBytes: FETCH_MAX_BYTES }],
        },
      ],
    });
    const messages =
      response.responses
        .find((entry) => entry.topicName === topic)
        ?.partitions.find((entry) => entry.partition === partition)?.messages ?? [];
    for (const message of messages) {
      const offset = BigInt(message.offset);
      // A fetch may start inside a batch (earlier offsets) and end past the target.
      if (offset < next || offset >= range.to) continue;
      next = offset + 1n;
      classify(message, offset, topic, partition, committed, open);
    }
  }
  // Records of transactions still open at call time are not committed: left out.
  return committed.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
}

function classify(
  message: KafkajsRawRecord,
  offset: bigint,
  topic: string,
  partition: number,
  committed: KafkaRecord[],
  open: Map<string, KafkaRecord[]>,
): void {
  const producerId = message.batchContext.producerId;
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
  if (!message.batchContext.inTransaction) {
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
