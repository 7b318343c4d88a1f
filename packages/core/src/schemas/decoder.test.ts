import { describe, expect, it } from 'vitest';
import { isTributaryError } from '../errors.js';
import { SchemaCodecs } from './codec.js';
import { createRecordValueDecoder, decodeRecordValue } from './decoder.js';
import { SchemaNotFoundError } from './errors.js';
import { createJsonSchemaCodec } from './json-schema-codec.js';
import type { RegistrySchema } from './registry.js';
import { encodeWireFormat } from './wire-format.js';

const schema: RegistrySchema = { format: 'JSON', schema: '{"type":"object"}' };
const codecs = new SchemaCodecs([createJsonSchemaCodec()]);
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

function countingRegistry() {
  const calls: number[] = [];
  return {
    calls,
    getById(id: number): Promise<RegistrySchema> {
      calls.push(id);
      if (id === 7) return Promise.resolve(schema);
      return Promise.reject(new SchemaNotFoundError(`no schema ${id}`));
    },
  };
}

describe('decoding record values', () => {
  it('decodes JSON and registry records of the same topic by their first byte', async () => {
    const registry = countingRegistry();
    const json = await decodeRecordValue(utf8('{"v":1}'), { registry, codecs });
    expect(json).toEqual({ encoding: 'json', payload: { v: 1 } });
    const encoded = await decodeRecordValue(encodeWireFormat(7, utf8('{"v":2}')), {
      registry,
      codecs,
    });
    expect(encoded).toEqual({
      encoding: 'registry',
      payload: { v: 2 },
      schemaId: 7,
      format: 'JSON',
    });
    expect(registry.calls).toEqual([7]);
  });

  it('asks the registry once per schema id, even for concurrent misses', async () => {
    const registry = countingRegistry();
    const decoder = createRecordValueDecoder({ registry, codecs });
    const value = encodeWireFormat(7, utf8('{"v":3}'));
    expect(decoder.decodeCached(value)).toBeUndefined();
    const results = await Promise.all([decoder.decode(value), decoder.decode(value)]);
    expect(results.map((result) => result.payload)).toEqual([{ v: 3 }, { v: 3 }]);
    expect(decoder.decodeCached(value)?.payload).toEqual({ v: 3 });
    expect(registry.calls).toEqual([7]);
  });

  it('reports an unknown schema id as not found, and asks again next time', async () => {
    const registry = countingRegistry();
    const decoder = createRecordValueDecoder({ registry, codecs });
    const value = encodeWireFormat(99, utf8('{}'));
    await expect(decoder.decode(value)).rejects.toSatisfy((error) =>
      isTributaryError(error, 'SCHEMA_NOT_FOUND'),
    );
    await expect(decoder.decode(value)).rejects.toThrow(/no schema 99/);
    expect(registry.calls).toEqual([99, 99]);
  });

  it('reports bytes that are neither format as a serialization error', async () => {
    const registry = countingRegistry();
    await expect(decodeRecordValue(utf8('not json'), { registry, codecs })).rejects.toSatisfy(
      (error) => isTributaryError(error, 'SERIALIZATION_FAILED'),
    );
  });
});
