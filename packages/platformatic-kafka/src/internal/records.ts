/**
 * The port's records ↔ @platformatic/kafka's messages. The library is created without
 * serializers, so it writes keys, values and header names and values as they are: they must
 * be Buffers (a string would be written with its character count as its byte length).
 */
import type { KafkaBytes, KafkaRecord, KafkaTopicMessages } from '@tributary/core';
import { compatibilityPartitioner, type MessageToProduce } from '@platformatic/kafka';

/** Text as UTF-8, bytes as a Buffer over the same memory (no copy). */
export function toBuffer(bytes: KafkaBytes): Buffer {
  if (typeof bytes === 'string') return Buffer.from(bytes, 'utf8');
  if (Buffer.isBuffer(bytes)) return bytes;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Header names as bytes, encoded once: every record carries the same dozen names, and a
 * Buffer per name per record was a tenth of the allocations of a produce. The library only
 * reads them. Bounded, in case a caller makes up names per record.
 */
const headerNames = new Map<string, Buffer>();
const MAX_CACHED_HEADER_NAMES = 1_000;

function headerName(name: string): Buffer {
  let bytes = headerNames.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(name, 'utf8');
    if (headerNames.size < MAX_CACHED_HEADER_NAMES) headerNames.set(name, bytes);
  }
  return bytes;
}

/** The port's batch as the library's flat message list (each message names its topic). */
export function toMessages(batch: readonly KafkaTopicMessages[]): MessageToProduce[] {
  const messages: MessageToProduce[] = [];
  for (const { topic, messages: records } of batch) {
    for (const record of records) {
      const headers = new Map<Buffer, Buffer>();
      if (record.headers !== undefined) {
        for (const name in record.headers) {
          const value = record.headers[name];
          if (value !== undefined) headers.set(headerName(name), toBuffer(value));
        }
      }
      const message: MessageToProduce = { topic, headers };
      if (record.key !== null) message.key = toBuffer(record.key);
      if (record.value !== null) message.value = toBuffer(record.value);
      if (record.partition !== undefined) message.partition = record.partition;
      messages.push(message);
    }
  }
  return messages;
}

/**
 * Kafka's Java partitioner (murmur2 with the sign bit cleared, modulo the partition count,
 * which the library applies): the library's default keeps the sign bit as an unsigned number
 * and would put half the keys on other partitions than kafkajs and the Java client do, which
 * would break per-aggregate order when a deployment switches clients.
 */
export const javaCompatiblePartitioner = compatibilityPartitioner;

/** A consumed message as the port's record. */
export function toRecord(
  topic: string,
  partition: number,
  offset: bigint,
  key: Buffer | null | undefined,
  value: Buffer | null | undefined,
  headerPairs: readonly (readonly [Buffer | null | undefined, Buffer | null | undefined])[],
): KafkaRecord {
  const headers: Record<string, Buffer | Buffer[]> = {};
  for (const [name, headerValue] of headerPairs) {
    if (name === null || name === undefined || headerValue === null || headerValue === undefined)
      continue;
    const text = name.toString('utf8');
    const previous = headers[text];
    // Repeated names keep every value, first one first, as kafkajs reports them.
    if (previous === undefined) headers[text] = headerValue;
    else
      headers[text] = Array.isArray(previous)
        ? [...previous, headerValue]
        : [previous, headerValue];
  }
  return {
    topic,
    partition,
    offset,
    key: key ?? null,
    value: value ?? null,
    headers,
  };
}
