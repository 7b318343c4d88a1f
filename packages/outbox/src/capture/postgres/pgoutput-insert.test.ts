import { PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { describe, expect, it } from 'vitest';
import { decodeInsert } from './pgoutput-insert.js';

const cstring = (text: string): Buffer => Buffer.concat([Buffer.from(text), Buffer.from([0])]);
const int16 = (value: number): Buffer => Buffer.from([(value >> 8) & 0xff, value & 0xff]);
const int32 = (value: number): Buffer => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
};

/** A pgoutput v1 RELATION message of text columns. */
function relationMessage(id: number, columns: readonly string[]): Buffer {
  return Buffer.concat([
    Buffer.from('R'),
    int32(id),
    cstring('tributary'),
    cstring('events'),
    Buffer.from('d'),
    int16(columns.length),
    ...columns.flatMap((name) => [Buffer.from([0]), cstring(name), int32(25), int32(-1)]),
  ]);
}

type Column = string | null | { readonly kind: 'u' | 'b'; readonly bytes?: Buffer };

/** A pgoutput v1 INSERT message. */
function insertMessage(relation: number, values: readonly Column[]): Buffer {
  return Buffer.concat([
    Buffer.from('I'),
    int32(relation),
    Buffer.from('N'),
    int16(values.length),
    ...values.flatMap((value) => {
      if (value === null) return [Buffer.from('n')];
      if (typeof value === 'string') {
        const bytes = Buffer.from(value, 'utf8');
        return [Buffer.from('t'), int32(bytes.length), bytes];
      }
      const bytes = value.bytes ?? Buffer.alloc(0);
      return value.kind === 'u'
        ? [Buffer.from('u')]
        : [Buffer.from('b'), int32(bytes.length), bytes];
    }),
  ]);
}

/** The library's parser, with every column kept as text as the source configures it. */
function libraryParser(): {
  parse(buffer: Buffer): Pgoutput.Message;
  relations: Map<number, Pgoutput.MessageRelation>;
} {
  const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ['p'] });
  const relations = (
    plugin as unknown as { parser: { _relationCache: Map<number, Pgoutput.MessageRelation> } }
  ).parser._relationCache;
  return {
    relations,
    parse(buffer) {
      const message = plugin.parse(buffer);
      if (message.tag === 'relation')
        for (const column of message.columns) column.parser = (text: string) => text;
      return message;
    },
  };
}

const COLUMNS = ['event_id', 'payload', 'metadata', 'toString', '__proto__', 'occurred_at'];

describe('decodeInsert', () => {
  it('decodes text and null columns as the library does, and counts their bytes', () => {
    const library = libraryParser();
    library.parse(relationMessage(16_384, COLUMNS));
    const rows: Column[][] = [
      ['0190-a', '{"a": 1}', null, 'x', 'y', '2024-05-01 10:00:00+00'],
      ['', 'ключ — 😀 naïve', '{}', '', null, null],
      ['e'.repeat(5_000), 'p', 'm', 't', 'q', 'o'],
    ];
    for (const values of rows) {
      const buffer = insertMessage(16_384, values);
      const decoded = decodeInsert(buffer, library.relations);
      const expected = library.parse(buffer) as Pgoutput.MessageInsert;
      expect(decoded).toBeDefined();
      expect(decoded?.relation).toBe(expected.relation);
      expect({ ...decoded?.new }).toEqual({ ...expected.new });
      expect(Object.keys(decoded?.new ?? {})).toEqual(COLUMNS);
      expect(decoded?.columnBytes).toBe(
        values.reduce<number>(
          (sum, value) => sum + (typeof value === 'string' ? Buffer.byteLength(value) : 0),
          0,
        ),
      );
    }
  });

  it('gives rows no inherited members', () => {
    const library = libraryParser();
    library.parse(relationMessage(7, ['a']));
    const row = decodeInsert(insertMessage(7, ['1']), library.relations)?.new as Record<
      string,
      unknown
    >;
    expect(row['a']).toBe('1');
    expect(row['toString']).toBeUndefined();
    expect(row['constructor']).toBeUndefined();
    expect('hasOwnProperty' in row).toBe(false);
  });

  it('leaves anything unexpected to the library parser', () => {
    const library = libraryParser();
    library.parse(relationMessage(7, ['a', 'b']));
    const unexpected = [
      insertMessage(8, ['1', '2']), // unknown relation
      insertMessage(7, ['1', { kind: 'u' }]), // unchanged TOAST datum
      insertMessage(7, ['1', { kind: 'b', bytes: Buffer.from([1]) }]), // binary
      insertMessage(7, ['1', '2', '3']), // more fields than the relation has columns
      insertMessage(7, ['1', 'two']).subarray(0, 20), // truncated
      relationMessage(9, ['a']), // not an insert
    ];
    for (const buffer of unexpected)
      expect(decodeInsert(buffer, library.relations)).toBeUndefined();
  });
});
