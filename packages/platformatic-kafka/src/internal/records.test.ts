import { describe, expect, it } from 'vitest';
import { javaCompatiblePartitioner, toBuffer, toMessages, toRecord } from './records.js';

describe('javaCompatiblePartitioner', () => {
  // Kafka's Utils.murmur2 of these keys (Apache Kafka UtilsTest.testMurmur2); the Java client
  // puts a key on toPositive(murmur2) % partitions, and so do kafkajs and the in-memory log.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['abc', 479470107],
  ])('puts %j where the Java client does', (key, murmur2) => {
    const hash = javaCompatiblePartitioner({ topic: 't' }, Buffer.from(key));
    for (const partitions of [1, 3, 6, 12, 50]) {
      expect(hash % partitions).toBe((murmur2 & 0x7fffffff) % partitions);
    }
  });
});

describe('record conversion', () => {
  it('writes text as UTF-8 and shares the memory of byte arrays', () => {
    expect(toBuffer('é').equals(Buffer.from([0xc3, 0xa9]))).toBe(true);
    const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const buffer = toBuffer(bytes);
    expect([...buffer]).toEqual([2, 3]);
    expect(buffer.buffer).toBe(bytes.buffer);
  });

  it('turns the port batch into messages that name their topic, with Buffer headers', () => {
    const [message] = toMessages([
      { topic: 't', messages: [{ key: null, value: 'v', headers: { h: 'x' }, partition: 2 }] },
    ]);
    expect(message?.topic).toBe('t');
    expect(message?.key).toBeUndefined();
    expect(message?.value?.toString()).toBe('v');
    expect(message?.partition).toBe(2);
    const headers = [...(message?.headers as Map<Buffer, Buffer>)];
    expect(headers.map(([name, value]) => [name.toString(), value.toString()])).toEqual([
      ['h', 'x'],
    ]);
  });

  it('writes every header of every message, names shared between messages', () => {
    const messages = toMessages([
      {
        topic: 't',
        messages: [
          { key: 'k1', value: 'v1', headers: { a: '1', b: '2' } },
          { key: 'k2', value: 'v2', headers: { b: '3', é: Buffer.from('4') } },
        ],
      },
    ]);
    const pairs = messages.map((message) =>
      [...(message.headers as Map<Buffer, Buffer>)].map(([name, value]) => [
        name.toString(),
        value.toString(),
      ]),
    );
    expect(pairs).toEqual([
      [
        ['a', '1'],
        ['b', '2'],
      ],
      [
        ['b', '3'],
        ['é', '4'],
      ],
    ]);
    const names = (index: number) => [...(messages[index]?.headers as Map<Buffer, Buffer>).keys()];
    expect(names(1)[1]?.length).toBe(2); // "é" is two bytes in UTF-8
  });

  it('keeps every value of a repeated header, first one first', () => {
    const record = toRecord('t', 0, 5n, null, Buffer.from('v'), [
      [Buffer.from('h'), Buffer.from('1')],
      [Buffer.from('h'), Buffer.from('2')],
      [Buffer.from('g'), Buffer.from('3')],
    ]);
    expect(record.key).toBeNull();
    expect(record.headers['h']).toEqual([Buffer.from('1'), Buffer.from('2')]);
    expect(record.headers['g']).toEqual(Buffer.from('3'));
  });
});
