/**
 * A read_uncommitted Fetch (v4) of one partition that keeps record batch boundaries.
 *
 * Why not kafkajs's `broker.fetch`: its decoder flattens batches into records, so a batch
 * that has no record at or after the fetch offset leaves no trace. On a compacted topic
 * (the capture checkpoints) the cleaner leaves exactly such batches: empty batches kept to
 * preserve a producer's state, and batches whose surviving records lie before the offset.
 * A fetch returns the batches of one log segment; when the rest of that segment is such
 * batches, a reader that advances by record offsets asks for the same offset forever (the
 * capturer's checkpoint read then timed out on every restart, issue #11's soak). Advancing
 * by each batch's last offset (base offset + last offset delta) always moves forward, as
 * the Java consumer does.
 *
 * The request is kafkajs's own Fetch v4 encoder (Kafka 4 still serves v4); the response
 * decoder below is kafkajs's v4 decoder with the batch loop kept, and each batch is decoded
 * by kafkajs's record batch decoder (compression included).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** One record as kafkajs's record decoder returns it, control records included. */
export interface KafkajsBatchRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  readonly isControlRecord: boolean;
}

/** One record batch of a fetch response. */
export interface KafkajsFetchedBatch {
  readonly firstOffset: string;
  readonly lastOffsetDelta: number;
  readonly producerId: string;
  readonly inTransaction: boolean;
  readonly isControlBatch: boolean;
  readonly records: readonly KafkajsBatchRecord[];
}

/** kafkajs's internal Broker, as far as this module uses it. */
export interface KafkajsBrokerConnection {
  readonly connectionPool: { send(request: unknown): Promise<unknown> };
}

interface KafkajsDecoder {
  readInt32(): number;
  readInt16(): number;
  readInt8(): number;
  readInt64(): { toString(): string };
  readString(): string;
  readBytes(length: number): Buffer;
  canReadBytes(length: number): boolean;
  readArray<T>(read: (decoder: KafkajsDecoder) => T): T[];
  readArrayAsync<T>(read: (decoder: KafkajsDecoder) => Promise<T>): Promise<T[]>;
}

const Decoder = require('kafkajs/src/protocol/decoder.js') as new (
  buffer: Buffer,
) => KafkajsDecoder;
const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  decoder: KafkajsDecoder,
) => Promise<KafkajsFetchedBatch>;
const fetchV4Request = require('kafkajs/src/protocol/requests/fetch/v4/request.js') as (
  options: object,
) => unknown;
const { parse: parseFetchResponse } =
  require('kafkajs/src/protocol/requests/fetch/v1/response.js') as {
    parse: (data: unknown) => Promise<unknown>;
  };

/** Magic byte of the record batch format (v2); its offset is the same in every format. */
const RECORD_BATCH_MAGIC = 2;
const MAGIC_OFFSET = 16;
/** Bytes of a record batch header: shorter tails are a partial batch cut by max bytes. */
const RECORD_BATCH_OVERHEAD = 49;

async function decodeBatches(decoder: KafkajsDecoder): Promise<KafkajsFetchedBatch[]> {
  const size = decoder.readInt32();
  if (size <= 0 || !decoder.canReadBytes(size)) return [];
  const buffer = decoder.readBytes(size);
  if (buffer.length <= MAGIC_OFFSET || buffer.readInt8(MAGIC_OFFSET) !== RECORD_BATCH_MAGIC) {
    throw new Error('the broker returned records in a message format older than v2');
  }
  const batches: KafkajsFetchedBatch[] = [];
  const batchDecoder = new Decoder(buffer);
  while (batchDecoder.canReadBytes(RECORD_BATCH_OVERHEAD)) {
    try {
      batches.push(await RecordBatchDecoder(batchDecoder));
    } catch (error) {
      // The last batch may be cut by the fetch's max bytes; the next fetch reads it whole.
      if (error instanceof Error && error.name === 'KafkaJSPartialMessageError') break;
      throw error;
    }
  }
  return batches;
}

async function decode(rawData: Buffer): Promise<unknown> {
  const decoder = new Decoder(rawData);
  const throttleTime = decoder.readInt32();
  const responses = await decoder.readArrayAsync(async (topicDecoder) => ({
    topicName: topicDecoder.readString(),
    partitions: await topicDecoder.readArrayAsync(async (partitionDecoder) => ({
      partition: partitionDecoder.readInt32(),
      errorCode: partitionDecoder.readInt16(),
      highWatermark: partitionDecoder.readInt64().toString(),
      lastStableOffset: partitionDecoder.readInt64().toString(),
      abortedTransactions: partitionDecoder.readArray((aborted) => ({
        producerId: aborted.readInt64().toString(),
        firstOffset: aborted.readInt64().toString(),
      })),
      batches: await decodeBatches(partitionDecoder),
    })),
  }));
  return { throttleTime, responses };
}

interface FetchResponse {
  readonly responses: readonly {
    readonly topicName: string;
    readonly partitions: readonly {
      readonly partition: number;
      readonly batches: readonly KafkajsFetchedBatch[];
    }[];
  }[];
}

/**
 * Fetches `topic`/`partition` from `offset`, read_uncommitted (transaction markers
 * included), from `broker` (the partition's leader), and returns the record batches.
 * Partition errors are thrown as kafkajs errors (kafkajs's own response parser).
 */
export async function fetchBatches(
  broker: KafkajsBrokerConnection,
  topic: string,
  partition: number,
  offset: bigint,
  maxBytes: number,
  isolationLevel: number,
): Promise<readonly KafkajsFetchedBatch[]> {
  const request = fetchV4Request({
    replicaId: -1,
    maxWaitTime: 100,
    minBytes: 1,
    maxBytes,
    isolationLevel,
    topics: [{ topic, partitions: [{ partition, fetchOffset: offset.toString(), maxBytes }] }],
  });
  const response = (await broker.connectionPool.send({
    request,
    response: { decode, parse: parseFetchResponse },
  })) as FetchResponse;
  return (
    response.responses
      .find((entry) => entry.topicName === topic)
      ?.partitions.find((entry) => entry.partition === partition)?.batches ?? []
  );
}

/** The offset after `batch`: its base offset plus its last offset delta, plus one. */
export function offsetAfter(batch: KafkajsFetchedBatch): bigint {
  return BigInt(batch.firstOffset) + BigInt(batch.lastOffsetDelta) + 1n;
}
