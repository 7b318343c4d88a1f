import { isTributaryError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { describeSchemaRegistryContract } from '../contracts/schema-registry.contract.js';
import { InMemorySchemaRegistry } from './in-memory-schema-registry.js';

describeSchemaRegistryContract('InMemorySchemaRegistry', () =>
  Promise.resolve({
    registry: new InMemorySchemaRegistry(),
    subject: (name: string) => `mem-${name}`,
  }),
);

describe('InMemorySchemaRegistry', () => {
  it('defaults to compatibility NONE, like the local stack registry', async () => {
    expect(await new InMemorySchemaRegistry().getCompatibility()).toBe('NONE');
    expect(await new InMemorySchemaRegistry({ compatibility: 'FULL' }).getCompatibility()).toBe(
      'FULL',
    );
  });

  it('fails every call with a retriable error while unavailable, and recovers', async () => {
    const registry = new InMemorySchemaRegistry();
    const { id } = await registry.register('s', { format: 'JSON', schema: '{}' });
    registry.setAvailable(false);
    const error = await registry.getById(id).catch((caught: unknown) => caught);
    expect(isTributaryError(error, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((error as { retriable: boolean }).retriable).toBe(true);
    registry.setAvailable(true);
    expect((await registry.getById(id)).schema).toBe('{}');
    expect(registry.requests.get('getById')).toBe(2);
  });

  it('applies the global mode to subjects without their own', async () => {
    const registry = new InMemorySchemaRegistry({ compatibility: 'BACKWARD' });
    await registry.register('s', {
      format: 'JSON',
      schema: '{"type":"object","properties":{"a":{"type":"string"}}}',
    });
    const result = await registry.checkCompatibility('s', {
      format: 'JSON',
      schema: '{"type":"object","properties":{"a":{"type":"integer"}}}',
    });
    expect(result).toEqual({
      compatible: false,
      messages: ['SUBSCHEMA_TYPE_CHANGED at /properties/a'],
    });
  });
});
