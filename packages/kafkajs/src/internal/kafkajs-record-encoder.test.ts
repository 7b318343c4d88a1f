import { describe, expect, it } from 'vitest';
import {
  encodeRecordFast,
  kafkajsRecordEncoder,
  type RecordInput,
} from './kafkajs-record-encoder.js';

const bytes = (encoder: { buf: Buffer; offset: number }): Buffer =>
  encoder.buf.subarray(0, encoder.offset);

const randomText = (length: number): string =>
  Array.from({ length }, () => String.fromCodePoint(32 + Math.floor(Math.random() * 2000))).join(
    '',
  );

describe('the fast kafkajs record encoder', () => {
  const original = kafkajsRecordEncoder();

  it('writes exactly the bytes kafkajs writes', () => {
    const inputs: RecordInput[] = [
      {
        offsetDelta: 0,
        timestampDelta: 0,
        key: 'acc-1',
        value: Buffer.from('{"a": 1}'),
        headers: {},
      },
      { offsetDelta: 1, key: null, value: null },
      { offsetDelta: 63, key: Buffer.from([0, 255]), value: 'text value', headers: { a: 'b' } },
      {
        offsetDelta: 64,
        key: 'k',
        value: Buffer.alloc(200, 7),
        headers: { 'tributary.event_id': '0190', empty: '' },
      },
      {
        offsetDelta: 70_000,
        key: 'ключ',
        value: Buffer.from('ü'),
        headers: { naïve: 'värde', buf: Buffer.from([1, 2]) },
      },
      { offsetDelta: 2 ** 30 + 5, key: 'k', value: Buffer.alloc(20_000, 1) },
    ];
    for (let index = 0; index < 200; index += 1) {
      const headers: Record<string, string> = {};
      for (let h = 0; h < Math.floor(Math.random() * 15); h += 1)
        headers[randomText(1 + h)] = randomText(Math.floor(Math.random() * 300));
      inputs.push({
        offsetDelta: Math.floor(Math.random() * 100_000),
        timestampDelta: 0,
        key: Math.random() < 0.1 ? null : randomText(Math.floor(Math.random() * 100)),
        value:
          Math.random() < 0.1 ? null : Buffer.from(randomText(Math.floor(Math.random() * 3000))),
        headers,
      });
    }
    for (const input of inputs) {
      const fast = encodeRecordFast(input);
      expect(fast).toBeDefined();
      expect(
        bytes(fast as { buf: Buffer; offset: number }).equals(bytes(original(input))),
        JSON.stringify(input).slice(0, 200),
      ).toBe(true);
    }
  });

  it('writes ASCII and mixed short strings exactly as kafkajs does', () => {
    // Header names and values are mostly short ASCII, written without a call into C++:
    // lengths around the short-string bound, and one non-ASCII unit anywhere in them.
    const ascii = (length: number): string =>
      Array.from({ length }, () => String.fromCharCode(32 + Math.floor(Math.random() * 95))).join(
        '',
      );
    for (const length of [0, 1, 35, 36, 63, 64, 65, 130, 300]) {
      for (const odd of ['', 'é', '\u007f', '\u0080', '😀', '\ud800']) {
        const text = ascii(length);
        const at = Math.floor(Math.random() * (length + 1));
        const mixed = `${text.slice(0, at)}${odd}${text.slice(at)}`;
        const input: RecordInput = {
          offsetDelta: length,
          key: mixed,
          value: ascii(length),
          headers: { [mixed || 'name']: mixed, [`${ascii(length)}-x`]: ascii(length) },
        };
        const fast = encodeRecordFast(input);
        expect(fast).toBeDefined();
        expect(
          bytes(fast as { buf: Buffer; offset: number }).equals(bytes(original(input))),
          JSON.stringify(input).slice(0, 200),
        ).toBe(true);
      }
    }
  });

  it('leaves inputs outside its fast path to kafkajs', () => {
    expect(encodeRecordFast({ timestampDelta: 5, key: 'k', value: 'v' })).toBeUndefined();
    expect(
      encodeRecordFast({ key: 'k', value: 'v', headers: { many: ['a', 'b'] } }),
    ).toBeUndefined();
    expect(encodeRecordFast({ key: 42, value: 'v' })).toBeUndefined();
  });
});
