import { envelopeFromHeaders, EventHeaders, topicFor } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { defaultRouterConfig, type RouterConfig } from './config.js';
import { createOutboxRouter, toIsoTimestamp, type OutboxRow } from './router.js';

const row = (overrides: Record<string, string | null> = {}): OutboxRow => ({
  position: '7',
  event_id: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
  aggregate_type: 'Account',
  aggregate_id: 'acc-1',
  aggregate_version: '3',
  event_type: 'MoneyDeposited',
  schema_version: '2',
  payload: '{"amount": 10}',
  metadata: '{"correlationId": "c-1", "causationId": "cmd-9", "userId": "u-1"}',
  occurred_at: '2024-05-01 10:00:00.123456+00',
  ...overrides,
});

const context = { commitLsn: 0x1_0000_00a0n, sequence: 4, commitTime: '2024-05-01T10:00:01.000Z' };

const routed = (config: RouterConfig, input: OutboxRow) => {
  const result = createOutboxRouter(config)(input, context);
  if (!result.routed) throw new Error(`expected routed, got: ${result.reason}`);
  return result.record;
};

describe('the outbox router', () => {
  it('routes to <prefix>.<AggregateType> keyed by aggregate id with the payload as value', () => {
    const record = routed(defaultRouterConfig, row());
    expect(record.topic).toBe('events.Account');
    expect(record.key).toBe('acc-1');
    expect(record.value.toString('utf8')).toBe('{"amount": 10}');
    expect(record.eventId).toBe('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
  });

  it('writes headers that envelopeFromHeaders decodes back to the envelope', () => {
    const record = routed(defaultRouterConfig, row());
    expect(envelopeFromHeaders(record.headers)).toEqual({
      eventId: '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      aggregateType: 'Account',
      aggregateId: 'acc-1',
      aggregateVersion: 3,
      eventType: 'MoneyDeposited',
      schemaVersion: 2,
      occurredAt: '2024-05-01T10:00:00.123Z',
      metadata: { correlationId: 'c-1', causationId: 'cmd-9', userId: 'u-1' },
    });
    expect(record.headers[EventHeaders.correlationId]).toBe('c-1');
    expect(record.headers[EventHeaders.causationId]).toBe('cmd-9');
    expect(record.headers[EventHeaders.contentType]).toBe('application/json');
  });

  it('returns the envelope it wrote into the headers, and the payload as stored', () => {
    const result = createOutboxRouter(defaultRouterConfig)(row(), context);
    if (!result.routed) throw new Error(`expected routed, got: ${result.reason}`);
    expect(result.envelope).toEqual({
      ...envelopeFromHeaders(result.record.headers),
      payload: undefined,
    });
    expect(result.payloadJson).toBe('{"amount": 10}');
  });

  it('adds the source commit LSN and the position inside the transaction', () => {
    const record = routed(defaultRouterConfig, row());
    expect(record.headers[EventHeaders.commitLsn]).toBe('1/A0');
    expect(record.headers[EventHeaders.transactionSequence]).toBe('4');
  });

  it("gives each row its own transaction's commit LSN when transactions alternate", () => {
    const route = createOutboxRouter(defaultRouterConfig);
    const lsns = [0x1_0000_00a0n, 0x1_0000_00a0n, 0x2_0000_0010n, 0x1_0000_00a0n];
    const headers = lsns.map((commitLsn) => {
      const result = route(row(), { ...context, commitLsn });
      if (!result.routed) throw new Error(`expected routed, got: ${result.reason}`);
      return result.record.headers[EventHeaders.commitLsn];
    });
    expect(headers).toEqual(['1/A0', '1/A0', '2/10', '1/A0']);
  });

  it('is deterministic: the same row and context give identical records', () => {
    expect(routed(defaultRouterConfig, row())).toEqual(routed(defaultRouterConfig, row()));
  });

  it('honours a topic prefix, a replacement pattern and another route-by column', () => {
    const config: RouterConfig = {
      ...defaultRouterConfig,
      topicPrefix: 'bank',
      topicReplacement: '${prefix}.outbox.${routedByValue}.v1',
      routeByColumn: 'tenant',
    };
    expect(routed(config, row({ tenant: 'acme' })).topic).toBe('bank.outbox.acme.v1');
    expect(topicFor(config, 'x')).toBe('bank.outbox.x.v1');
  });

  it('reads renamed columns and copies additional columns into headers', () => {
    const config: RouterConfig = {
      ...defaultRouterConfig,
      routeByColumn: 'kind',
      columns: {
        ...defaultRouterConfig.columns,
        aggregateType: 'kind',
        aggregateId: 'stream_id',
        payload: 'body',
      },
      additionalHeaders: { tenant: 'x-tenant', absent: 'x-absent' },
    };
    const {
      aggregate_type: _type,
      aggregate_id: _id,
      payload: _payload,
      ...rest
    } = row({ tenant: 'acme' });
    const record = routed(config, { ...rest, kind: 'Order', stream_id: 'o-1', body: '{}' });
    expect(record.topic).toBe('events.Order');
    expect(record.key).toBe('o-1');
    expect(record.value.toString()).toBe('{}');
    expect(record.headers['x-tenant']).toBe('acme');
    expect(record.headers).not.toHaveProperty('x-absent');
  });

  it('defaults schema version, metadata and occurred-at when those columns are null', () => {
    const record = routed(
      defaultRouterConfig,
      row({ schema_version: null, metadata: null, occurred_at: null }),
    );
    const envelope = envelopeFromHeaders(record.headers);
    expect(envelope.schemaVersion).toBe(1);
    expect(envelope.metadata).toEqual({});
    expect(envelope.occurredAt).toBe(context.commitTime);
  });

  it.each([
    ['a missing event id', { event_id: null }, /event_id is null/],
    ['an event id that is not a UUID', { event_id: 'nope' }, /event id/],
    [
      'an aggregate type that cannot be part of a topic',
      { aggregate_type: 'Bad Type!' },
      /aggregate type/,
    ],
    ['an empty aggregate id', { aggregate_id: '' }, /aggregate id/],
    ['a version of 0', { aggregate_version: '0' }, /aggregate version/],
    ['a non-numeric version', { aggregate_version: 'x' }, /aggregate version/],
    ['metadata that is not an object', { metadata: '[1]' }, /not a JSON object/],
    ['a null payload', { payload: null }, /payload is null/],
    ['an unparseable timestamp', { occurred_at: 'yesterday' }, /timestamp/],
  ] as [string, Record<string, string | null>, RegExp][])(
    'reports %s as unroutable with the event id and a reason',
    (_label, overrides, reason) => {
      const result = createOutboxRouter(defaultRouterConfig)(row(overrides), context);
      expect(result.routed).toBe(false);
      if (result.routed) return;
      expect(result.reason).toMatch(reason);
      expect(result.eventId).toBe(
        overrides.event_id === undefined ? row().event_id : overrides.event_id,
      );
    },
  );

  it('reports a route-by value that makes an invalid topic name as unroutable', () => {
    const config: RouterConfig = { ...defaultRouterConfig, routeByColumn: 'tenant' };
    const result = createOutboxRouter(config)(row({ tenant: 'a/b' }), context);
    expect(result).toMatchObject({
      routed: false,
      reason: expect.stringMatching(/valid Kafka topic/),
    });
    const missing = createOutboxRouter(config)(row(), context);
    expect(missing).toMatchObject({
      routed: false,
      reason: expect.stringMatching(/route-by column tenant/),
    });
  });

  it('estimates the record size from key, value and headers', () => {
    const small = routed(defaultRouterConfig, row());
    const large = routed(
      defaultRouterConfig,
      row({ payload: JSON.stringify({ text: 'x'.repeat(1000) }) }),
    );
    expect(large.sizeBytes - small.sizeBytes).toBe(large.value.length - small.value.length);
    expect(small.sizeBytes).toBeGreaterThan(small.value.length + small.key.length);
  });
});

describe('toIsoTimestamp', () => {
  it.each([
    ['2024-05-01 10:00:00+00', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01 10:00:00.1+00', '2024-05-01T10:00:00.100Z'],
    ['2024-05-01 10:00:00.987654+00', '2024-05-01T10:00:00.987Z'],
    ['2024-05-01 12:30:00+02:30', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01 05:00:00-05', '2024-05-01T10:00:00.000Z'],
    ['2024-05-01T10:00:00.5Z', '2024-05-01T10:00:00.500Z'],
  ])('converts %s', (input, expected) => {
    expect(toIsoTimestamp(input)).toBe(expected);
  });

  it('rejects other text', () => {
    expect(() => toIsoTimestamp('infinity')).toThrow(TypeError);
    expect(() => toIsoTimestamp('2024-13-45 99:00:00+00')).toThrow(TypeError);
  });
});
