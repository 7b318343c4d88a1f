import { describe, expect, it } from 'vitest';
import { createAvroCodec } from './codecs.js';

const schema = JSON.stringify({
  type: 'record',
  name: 'Transferred',
  namespace: 'bank',
  fields: [
    { name: 'amount', type: 'long' },
    { name: 'fee', type: ['null', 'long'], default: null },
  ],
});

describe('the Avro codec', () => {
  it('round-trips longs beyond 2^53 as decimal strings and safe ones as numbers', () => {
    const compiled = createAvroCodec().compile({ format: 'AVRO', schema });
    const big = '9223372036854775807';
    expect(compiled.decode(compiled.encode({ amount: big, fee: 7 }))).toEqual({
      amount: big,
      fee: 7,
    });
    expect(compiled.decode(compiled.encode({ amount: '-9007199254740993', fee: null }))).toEqual({
      amount: '-9007199254740993',
      fee: null,
    });
    expect(compiled.decode(compiled.encode({ amount: '12', fee: null }))).toEqual({
      amount: 12,
      fee: null,
    });
  });

  it('refuses a long out of range or not an integer', () => {
    const compiled = createAvroCodec().compile({ format: 'AVRO', schema });
    expect(compiled.validate({ amount: '9223372036854775808', fee: null })).toHaveLength(1);
    expect(compiled.validate({ amount: 2 ** 60, fee: null })).toHaveLength(1);
    expect(compiled.validate({ amount: '1.5', fee: null })[0]?.path).toBe('/amount');
  });
});
