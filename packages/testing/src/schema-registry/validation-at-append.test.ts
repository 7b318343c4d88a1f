import {
  createSchemaPayloadValidator,
  defineEventSchemas,
  isTributaryError,
  jsonSchema,
} from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { InMemoryEventStore } from '../event-store/in-memory-event-store.js';

const payloadValidator = createSchemaPayloadValidator({
  catalog: defineEventSchemas([
    jsonSchema({
      aggregateType: 'Account',
      eventType: 'Deposited',
      schema: { type: 'object', properties: { amount: { type: 'integer' } }, required: ['amount'] },
    }),
  ]),
});

describe('InMemoryEventStore with a payload validator', () => {
  it('rejects an append whose payload does not match its schema and stores none of its events', async () => {
    const store = new InMemoryEventStore({ payloadValidator });
    const stream = { aggregateType: 'Account', aggregateId: 'acc-1' };
    const error = await store
      .appendToStream(stream, [
        { type: 'Deposited', data: { amount: 1 } },
        { type: 'Deposited', data: { amount: 'ten' } },
      ])
      .catch((caught: unknown) => caught);
    expect(isTributaryError(error, 'PAYLOAD_SCHEMA_MISMATCH')).toBe(true);
    expect((error as Error).message).toContain('/amount');
    expect((await store.readStream(stream)).currentVersion).toBe(0);
    await store.appendToStream(stream, [{ type: 'Deposited', data: { amount: 10 } }]);
    expect((await store.readStream(stream)).currentVersion).toBe(1);
  });
});
