/**
 * A faster decoder for pgoutput INSERT messages, the one message kind capture receives per
 * event. pg-logical-replication 2.5 decodes every column with a `TextDecoder` call and
 * collects the row in an `Object.create(null)` object, which V8 keeps in dictionary mode: in
 * the capture drain profile that was ~2 µs per column of decoding and slow keyed reads in
 * the router (bench:capture, docs/benchmarks.md). This decoder reads the same bytes (protocol
 * v1, text format) into an object with ordinary fast properties and no prototype members, and
 * counts the row's column bytes on the way (the size the source bounds its parts by).
 *
 * Anything it does not expect (an unknown relation, a tuple kind other than text or null, a
 * truncated message) returns `undefined`, and the library's parser decodes the message as
 * before, throwing its own errors.
 */
import type { Pgoutput } from 'pg-logical-replication';

/** An INSERT decoded by {@link decodeInsert}: the library's message plus the row's size. */
export interface DecodedInsert extends Pgoutput.MessageInsert {
  /** Bytes of the row's column text (UTF-8, as received). */
  readonly columnBytes: number;
}

/**
 * The prototype of decoded rows: no `Object.prototype` members (a column named `toString` or
 * `__proto__` is an own property like any other), yet a normal object for V8, unlike
 * `Object.create(null)`, so rows of one relation share a hidden class.
 */
const ROW_PROTOTYPE: object = Object.freeze(Object.create(null) as object);

const TAG_INSERT = 0x49; // 'I'
const TUPLE_NEW = 0x4e; // 'N'
const KIND_TEXT = 0x74; // 't'
const KIND_NULL = 0x6e; // 'n'

/**
 * Decodes one pgoutput INSERT (`buffer` starts at the message tag), or returns `undefined`
 * for anything else or anything unexpected.
 */
export function decodeInsert(
  buffer: Buffer,
  relations: ReadonlyMap<number, Pgoutput.MessageRelation>,
): DecodedInsert | undefined {
  const end = buffer.length;
  if (end < 8 || buffer[0] !== TAG_INSERT || buffer[5] !== TUPLE_NEW) return undefined;
  const relation = relations.get(buffer.readInt32BE(1));
  if (relation === undefined) return undefined;
  const fields = buffer.readInt16BE(6);
  const columns = relation.columns;
  if (fields > columns.length) return undefined;
  const row = Object.create(ROW_PROTOTYPE) as Record<string, string | null>;
  let offset = 8;
  let columnBytes = 0;
  for (let i = 0; i < fields; i++) {
    if (offset >= end) return undefined;
    const kind = buffer[offset];
    offset += 1;
    const name = (columns[i] as Pgoutput.RelationColumn).name;
    if (kind === KIND_TEXT) {
      if (offset + 4 > end) return undefined;
      const length = buffer.readInt32BE(offset);
      offset += 4;
      if (length < 0 || offset + length > end) return undefined;
      row[name] = buffer.toString('utf8', offset, offset + length);
      offset += length;
      columnBytes += length;
    } else if (kind === KIND_NULL) {
      row[name] = null;
    } else {
      // Binary values or unchanged TOAST datums: not what an outbox insert carries.
      return undefined;
    }
  }
  return { tag: 'insert', relation, new: row, columnBytes };
}
