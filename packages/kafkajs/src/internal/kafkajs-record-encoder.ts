/**
 * A faster encoder for one Kafka record (RecordBatch v2 "Record"), installed into kafkajs
 * 2.2.4 in place of `src/protocol/recordBatch/record/v0`.
 *
 * Why: kafkajs encodes every header with a fresh `Encoder` (a zero-filled 512-byte
 * `Buffer.alloc`) and every varint with `Buffer.from([...])`. With the 13 envelope headers
 * of a Tributary record that is ~40 allocations and ~7 KiB of zero-filling per event, and
 * it capped the raw kafkajs produce rate at ~11,000 records/s on the 2-core CI machine (vs
 * ~38,000 without headers). This encoder computes the exact size, allocates once and writes
 * the same bytes. Inputs it does not handle exactly like kafkajs (non-zero timestamp deltas,
 * header value arrays, values that are neither text nor bytes) go to the original. Plain
 * `Uint8Array`s (the Kafka client port's bytes) are written as bytes too, where kafkajs
 * would stringify them: {@link normalizeForKafkajs} converts them when this encoder is off.
 *
 * Installation works through the CommonJS module cache: kafkajs loads the record encoder
 * lazily with the produce request, so registering ours first makes kafkajs use it. If a
 * produce request was already encoded in this process, installation reports `false`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** kafkajs's Encoder, of which we only need the prototype and `buf`/`offset` fields. */
export interface KafkaEncoder {
  buf: Buffer;
  offset: number;
}

/** What kafkajs passes to the record encoder. */
export interface RecordInput {
  readonly offsetDelta?: number;
  readonly timestampDelta?: unknown;
  readonly key?: unknown;
  readonly value?: unknown;
  readonly headers?: Readonly<Record<string, unknown>> | undefined;
}

type RecordEncoder = (input: RecordInput) => KafkaEncoder;

const EncoderClass = require('kafkajs/src/protocol/encoder.js') as { prototype: object };
const RECORD_MODULE = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');

/** Size of kafkajs's `writeVarInt(value)`: zig-zag, then unsigned LEB128 over 32 bits. */
function varIntSize(value: number): number {
  let encoded = (value << 1) ^ (value >> 31);
  let bytes = 1;
  while ((encoded & 0xffffff80) !== 0) {
    bytes += 1;
    encoded >>>= 7;
  }
  return bytes;
}

function writeVarInt(buffer: Buffer, offset: number, value: number): number {
  let encoded = (value << 1) ^ (value >> 31);
  while ((encoded & 0xffffff80) !== 0) {
    buffer[offset++] = (encoded & 0x7f) | 0x80;
    encoded >>>= 7;
  }
  buffer[offset++] = encoded & 0x7f;
  return offset;
}

/**
 * Strings up to this many UTF-16 units are measured and written in JavaScript when they are
 * ASCII. A record carries ~26 short strings (header names and values): each call into
 * `Buffer.byteLength` / `buffer.write` costs more than the loop over its characters
 * (bench:capture profile, docs/benchmarks.md).
 */
const SHORT_STRING = 64;

/** UTF-8 byte length; ASCII strings of up to {@link SHORT_STRING} units without a call into C++. */
function stringByteLength(value: string): number {
  const length = value.length;
  if (length > SHORT_STRING) return Buffer.byteLength(value, 'utf8');
  for (let index = 0; index < length; index += 1) {
    if (value.charCodeAt(index) > 0x7f) return Buffer.byteLength(value, 'utf8');
  }
  return length;
}

const byteLength = (value: string | Uint8Array): number =>
  typeof value === 'string' ? stringByteLength(value) : value.length;

function writeBytes(
  buffer: Buffer,
  offset: number,
  value: string | Uint8Array,
  length: number,
): number {
  let next = writeVarInt(buffer, offset, length);
  if (typeof value !== 'string') buffer.set(value, next);
  else if (length === value.length && length <= SHORT_STRING) {
    // Byte length equal to the UTF-16 length: ASCII, one byte per unit.
    for (let index = 0; index < length; index += 1) buffer[next + index] = value.charCodeAt(index);
  } else buffer.write(value, next, length, 'utf8');
  next += length;
  return next;
}

// A Buffer is a Uint8Array: one check covers both.
const isBytes = (value: unknown): value is string | Uint8Array =>
  typeof value === 'string' || value instanceof Uint8Array;

/** A record measured for {@link writeRecord}: its size and the byte lengths it writes. */
export interface RecordLayout {
  /** Bytes of the whole record, its length varint included. */
  readonly size: number;
  readonly bodySize: number;
  readonly names: readonly string[];
  /** Byte length of each header name and value, alternating. */
  readonly lengths: readonly number[];
  readonly keyLength: number;
  readonly valueLength: number;
  readonly offsetDelta: number;
}

/**
 * Measures a record as kafkajs 2.2.4 encodes it (timestamp delta 0, offset delta
 * `offsetDelta`), or returns `undefined` for inputs outside the fast path.
 */
export function measureRecord(
  input: RecordInput,
  offsetDelta = input.offsetDelta ?? 0,
): RecordLayout | undefined {
  const { timestampDelta = 0, key, value, headers = {} } = input;
  if (timestampDelta !== 0 || !Number.isSafeInteger(offsetDelta)) return undefined;
  if (key != null && !isBytes(key)) return undefined;
  if (value != null && !isBytes(value)) return undefined;
  const names = Object.keys(headers);
  const lengths: number[] = [];
  let headersSize = varIntSize(names.length);
  for (const name of names) {
    const header = headers[name];
    if (!isBytes(header)) return undefined;
    const nameLength = stringByteLength(name);
    const valueLength = byteLength(header);
    lengths.push(nameLength, valueLength);
    headersSize += varIntSize(nameLength) + nameLength + varIntSize(valueLength) + valueLength;
  }
  const keyLength = key == null ? -1 : byteLength(key);
  const valueLength = value == null ? -1 : byteLength(value);
  const bodySize =
    1 + // attributes
    1 + // timestamp delta 0 as a varlong
    varIntSize(offsetDelta) +
    varIntSize(keyLength) +
    Math.max(0, keyLength) +
    varIntSize(valueLength) +
    Math.max(0, valueLength) +
    headersSize;
  return {
    size: varIntSize(bodySize) + bodySize,
    bodySize,
    names,
    lengths,
    keyLength,
    valueLength,
    offsetDelta,
  };
}

/** Writes a record measured by {@link measureRecord} at `offset`; returns the offset after it. */
export function writeRecord(
  buffer: Buffer,
  start: number,
  input: RecordInput,
  layout: RecordLayout,
): number {
  const { key, value, headers = {} } = input;
  const { names, lengths } = layout;
  let offset = writeVarInt(buffer, start, layout.bodySize);
  buffer[offset++] = 0; // attributes
  buffer[offset++] = 0; // timestamp delta
  offset = writeVarInt(buffer, offset, layout.offsetDelta);
  offset =
    key == null
      ? writeVarInt(buffer, offset, -1)
      : writeBytes(buffer, offset, key as string | Uint8Array, layout.keyLength);
  offset =
    value == null
      ? writeVarInt(buffer, offset, -1)
      : writeBytes(buffer, offset, value as string | Uint8Array, layout.valueLength);
  offset = writeVarInt(buffer, offset, names.length);
  for (let index = 0; index < names.length; index += 1) {
    const name = names[index] as string;
    offset = writeBytes(buffer, offset, name, lengths[index * 2] as number);
    offset = writeBytes(
      buffer,
      offset,
      headers[name] as string | Uint8Array,
      lengths[index * 2 + 1] as number,
    );
  }
  return offset;
}

/** A kafkajs `Encoder` holding `buffer` up to `offset`, without kafkajs's zero-filled allocation. */
export function encoderOf(buffer: Buffer, offset: number): KafkaEncoder {
  const encoder = Object.create(EncoderClass.prototype) as KafkaEncoder;
  encoder.buf = buffer;
  encoder.offset = offset;
  return encoder;
}

/**
 * Encodes a record exactly as kafkajs 2.2.4 does, or returns `undefined` for inputs outside
 * the fast path.
 */
export function encodeRecordFast(input: RecordInput): KafkaEncoder | undefined {
  const layout = measureRecord(input);
  if (layout === undefined) return undefined;
  const buffer = Buffer.allocUnsafe(layout.size);
  return encoderOf(buffer, writeRecord(buffer, 0, input, layout));
}

let installed: boolean | undefined;
let original: RecordEncoder | undefined;

/**
 * Makes kafkajs use {@link encodeRecordFast}, falling back to its own encoder per record.
 *
 * @returns whether kafkajs will use it (false when kafkajs already loaded its own).
 */
export function installFastRecordEncoder(): boolean {
  if (installed !== undefined) return installed;
  const cache = require.cache;
  if (cache[RECORD_MODULE] !== undefined) {
    installed = false;
    return installed;
  }
  // Load the original first (it becomes the cached module), then swap its exports before
  // the produce request module requires it.
  const kafkajsEncoder = require(RECORD_MODULE) as RecordEncoder;
  original = kafkajsEncoder;
  const module = cache[RECORD_MODULE] as NodeJS.Module | undefined;
  if (module === undefined) {
    installed = false;
    return installed;
  }
  const fast: RecordEncoder = (input) =>
    encodeRecordFast(input) ?? kafkajsEncoder(normalizeRecord(input));
  module.exports = fast;
  installed = true;
  return installed;
}

/** kafkajs's own record encoder, for tests that compare bytes. */
export function kafkajsRecordEncoder(): RecordEncoder {
  original ??= require(RECORD_MODULE) as RecordEncoder;
  return original;
}

const asBuffer = (value: unknown): unknown =>
  value instanceof Uint8Array && !Buffer.isBuffer(value)
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    : value;

/** A record whose plain `Uint8Array`s are Buffers (views, no copy), as kafkajs expects. */
function normalizeRecord<T extends RecordInput>(input: T): T {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name] = asBuffer(value);
  return { ...input, key: asBuffer(input.key), value: asBuffer(input.value), headers };
}

/**
 * The messages of one topic with plain `Uint8Array`s turned into Buffers, for when the fast
 * encoder is not in use (kafkajs's own encoder would stringify them).
 */
export function normalizeForKafkajs<T extends { readonly messages: readonly RecordInput[] }>(
  topicMessages: T,
): T {
  return { ...topicMessages, messages: topicMessages.messages.map(normalizeRecord) };
}
