/**
 * A faster encoder for kafkajs 2.2.4's Produce request (versions 3 to 7 share v3's
 * encoding), installed with the fast record encoder in place of
 * `src/protocol/requests/produce/v3/request`.
 *
 * Why: kafkajs builds a produce request in nine nested `Encoder`s (record, batch body,
 * batch, record set, partition, topic, request, header, size prefix), each starting at 512
 * zero-filled bytes and doubling as it is written, each copying the level below. For a
 * ~900 KiB request that is ~13 bytes of zero-filled allocation and ~8 copied bytes per byte
 * sent, mostly in buffers of a megabyte or more: external memory that drives V8 into
 * frequent full garbage collections (bench:capture: garbage collection and its helper
 * threads were a third of the capturer's CPU). This encoder measures every record first,
 * allocates the request once at its exact size and writes records, batch headers and
 * CRC-32C (eight bytes per step, crc32c.ts) in place: the same bytes (a unit test compares them with kafkajs's on random
 * requests). Requests it does not handle exactly like kafkajs (compression, message
 * timestamps, records outside the fast record encoder, empty partitions) go to the original.
 */
import { createRequire } from 'node:module';
import { crc32c } from './crc32c.js';
import {
  encoderOf,
  measureRecord,
  writeRecord,
  type KafkaEncoder,
  type RecordInput,
  type RecordLayout,
} from './kafkajs-record-encoder.js';

const require = createRequire(import.meta.url);

interface KafkajsLong {
  getHighBits(): number;
  getLowBits(): number;
}
const Long = require('kafkajs/src/utils/long.js') as {
  fromValue(value: unknown): KafkajsLong;
  fromInt(value: number): KafkajsLong;
};
const REQUEST_MODULE = require.resolve('kafkajs/src/protocol/requests/produce/v3/request.js');

/** One partition of a produce request, as kafkajs's `sendMessages` builds it. */
export interface ProducePartition {
  readonly partition: number;
  readonly firstSequence?: number;
  readonly messages: readonly (RecordInput & { readonly timestamp?: unknown })[];
}

/** The options kafkajs passes to the Produce v3 request. */
export interface ProduceRequestOptions {
  readonly acks: number;
  readonly timeout: number;
  readonly transactionalId?: string | null;
  readonly producerId?: unknown;
  readonly producerEpoch?: number;
  readonly compression?: number;
  readonly topicData: readonly {
    readonly topic: string;
    readonly partitions: readonly ProducePartition[];
  }[];
}

/** What a kafkajs request module returns. */
interface KafkajsRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly apiName: string;
  expectResponse(): boolean;
  encode(): Promise<KafkaEncoder>;
}
type RequestModule = (options: ProduceRequestOptions) => KafkajsRequest;

/** Bytes before the records of a partition entry: partition, record set size, batch header. */
const PARTITION_OVERHEAD =
  4 + // partition
  4 + // record set size
  8 + // first offset
  4 + // batch length
  4 + // partition leader epoch
  1 + // magic
  4 + // CRC
  2 + // attributes
  4 + // last offset delta
  8 + // first timestamp
  8 + // max timestamp
  8 + // producer id
  2 + // producer epoch
  4 + // first sequence
  4; // record count

const TRANSACTIONAL = 16;

function writeInt64(buffer: Buffer, offset: number, value: unknown): number {
  const long = Long.fromValue(value);
  buffer.writeInt32BE(long.getHighBits(), offset);
  buffer.writeInt32BE(long.getLowBits(), offset + 4);
  return offset + 8;
}

function writeString(buffer: Buffer, offset: number, value: string | null): number {
  if (value === null) return buffer.writeInt16BE(-1, offset);
  const length = Buffer.byteLength(value, 'utf8');
  let next = buffer.writeInt16BE(length, offset);
  next += buffer.write(value, next, length, 'utf8');
  return next;
}

/**
 * Encodes a Produce v3 request body exactly as kafkajs 2.2.4 does with `now` as the batch
 * timestamp, or returns `undefined` for a request outside the fast path.
 */
export function encodeProduceRequestFast(
  options: ProduceRequestOptions,
  now: number = Date.now(),
): KafkaEncoder | undefined {
  const {
    acks,
    timeout,
    transactionalId = null,
    producerId = Long.fromInt(-1),
    producerEpoch = 0,
    compression = 0,
    topicData,
  } = options;
  if (compression !== 0) return undefined;
  const layouts: RecordLayout[] = [];
  let size =
    (transactionalId === null ? 2 : 2 + Buffer.byteLength(transactionalId, 'utf8')) + 2 + 4 + 4;
  for (const { topic, partitions } of topicData) {
    size += 2 + Buffer.byteLength(topic, 'utf8') + 4;
    for (const { messages } of partitions) {
      if (messages.length === 0) return undefined;
      size += PARTITION_OVERHEAD;
      for (let index = 0; index < messages.length; index += 1) {
        const message = messages[index] as RecordInput & { readonly timestamp?: unknown };
        if (message.timestamp != null) return undefined;
        const layout = measureRecord(message, index);
        if (layout === undefined) return undefined;
        layouts.push(layout);
        size += layout.size;
      }
    }
  }
  const buffer = Buffer.allocUnsafe(size);
  let offset = writeString(buffer, 0, transactionalId);
  offset = buffer.writeInt16BE(acks, offset);
  offset = buffer.writeInt32BE(timeout, offset);
  offset = buffer.writeInt32BE(topicData.length, offset);
  let next = 0;
  for (const { topic, partitions } of topicData) {
    offset = writeString(buffer, offset, topic);
    offset = buffer.writeInt32BE(partitions.length, offset);
    for (const { partition, firstSequence = 0, messages } of partitions) {
      offset = buffer.writeInt32BE(partition, offset);
      const sizeAt = offset;
      offset += 4;
      const recordSetStart = offset;
      offset = writeInt64(buffer, offset, 0); // first offset
      const lengthAt = offset;
      offset += 4;
      const batchStart = offset;
      offset = buffer.writeInt32BE(0, offset); // partition leader epoch
      offset = buffer.writeInt8(2, offset); // magic
      const crcAt = offset;
      offset += 4;
      const bodyStart = offset;
      offset = buffer.writeInt16BE(transactionalId ? TRANSACTIONAL : 0, offset);
      offset = buffer.writeInt32BE(messages.length - 1, offset); // last offset delta
      offset = writeInt64(buffer, offset, now); // first timestamp
      offset = writeInt64(buffer, offset, now); // max timestamp
      offset = writeInt64(buffer, offset, producerId);
      offset = buffer.writeInt16BE(producerEpoch, offset);
      offset = buffer.writeInt32BE(firstSequence, offset);
      offset = buffer.writeInt32BE(messages.length, offset);
      for (const message of messages) {
        offset = writeRecord(buffer, offset, message, layouts[next++] as RecordLayout);
      }
      buffer.writeUInt32BE(crc32c(buffer, bodyStart, offset), crcAt);
      buffer.writeInt32BE(offset - batchStart, lengthAt);
      buffer.writeInt32BE(offset - recordSetStart, sizeAt);
    }
  }
  return encoderOf(buffer, offset);
}

let installed: boolean | undefined;
let original: RequestModule | undefined;

/**
 * Makes kafkajs encode Produce requests with {@link encodeProduceRequestFast}, falling back
 * to its own encoder per request.
 *
 * @returns whether kafkajs will use it (false when kafkajs already loaded its own).
 */
export function installFastProduceRequest(): boolean {
  if (installed !== undefined) return installed;
  const cache = require.cache;
  if (cache[REQUEST_MODULE] !== undefined) {
    installed = false;
    return installed;
  }
  const kafkajsRequest = require(REQUEST_MODULE) as RequestModule;
  original = kafkajsRequest;
  const module = cache[REQUEST_MODULE] as NodeJS.Module | undefined;
  if (module === undefined) {
    installed = false;
    return installed;
  }
  const fast: RequestModule = (options) => {
    const request = kafkajsRequest(options);
    return {
      ...request,
      encode: () => {
        const encoded = encodeProduceRequestFast(options);
        return encoded === undefined ? request.encode() : Promise.resolve(encoded);
      },
    };
  };
  module.exports = fast;
  installed = true;
  return installed;
}

/** kafkajs's own Produce v3 request, for tests that compare bytes. */
export function kafkajsProduceRequest(): RequestModule {
  original ??= require(REQUEST_MODULE) as RequestModule;
  return original;
}
