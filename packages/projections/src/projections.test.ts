import {
  envelopeHeaders,
  type EventEnvelope,
  InvalidEventError,
  topicFor,
  UpcasterChain,
} from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { groupIdFor, resolveProjectionRuntimeConfig } from './config.js';
import { decodeEvent, readEnvelope } from './internal/decode.js';
import type { SourceRecord } from './source-record.js';
import { faultPlansFromEnvironment, FaultInjector } from './fault-injection.js';
import {
  defineProjection,
  tableNamesFor,
  validateProjection,
  type AnyProjection,
} from './projection.js';
import { deadLetterHeaders } from './runtime/dead-letter.js';

const envelope: EventEnvelope = {
  eventId: '01890a5d-ac96-774b-bcce-b302099a8057',
  aggregateType: 'Account',
  aggregateId: 'acc-1',
  aggregateVersion: 3,
  eventType: 'AccountOpened',
  schemaVersion: 1,
  payload: { owner: 'Ann' },
  metadata: { correlationId: 'c-1' },
  occurredAt: '2026-01-01T00:00:00.000Z',
};
const record = (value: string | null, headers = envelopeHeaders(envelope)): SourceRecord => ({
  topic: 'events.Account',
  partition: 2,
  offset: 41,
  key: 'acc-1',
  value,
  headers,
});

const minimal = (overrides: Partial<AnyProjection> = {}): AnyProjection => ({
  name: 'balances',
  version: 1,
  aggregateTypes: ['Account'],
  tables: ['balances'],
  migrations: [],
  handlers: { AccountOpened: () => undefined },
  ...overrides,
});

describe('projection definitions', () => {
  it('accepts a valid projection and names its versioned tables schema-qualified', () => {
    const projection = defineProjection(minimal());
    expect(tableNamesFor(projection, 7, 'read')).toEqual({ balances: 'read.balances_v7' });
  });

  it.each([
    ['an upper-case name', { name: 'Balances' }, /name must match/],
    ['version 0', { version: 0 }, /version must be a positive integer/],
    ['no aggregate types', { aggregateTypes: [] }, /aggregateTypes must not be empty/],
    ['a bad aggregate type', { aggregateTypes: ['a.b'] }, /aggregate type/],
    ['a table listed twice', { tables: ['t', 't'] }, /listed twice/],
    ['no handlers', { handlers: {} }, /no handlers/],
    ['a table name too long once versioned', { tables: ['x'.repeat(61)] }, /too long/],
    ['no tables (a plain-JavaScript module)', { tables: undefined }, /tables must be an array/],
    ['no migrations', { migrations: undefined }, /migrations must be an array \(\[\] for none\)/],
    ['handlers that are not an object', { handlers: undefined }, /handlers must be an object/],
  ])('rejects %s', (_label, overrides, message) => {
    expect(() => validateProjection(minimal(overrides as Partial<AnyProjection>))).toThrow(message);
  });
});

describe('configuration', () => {
  it('fills defaults and derives group ids and topics', () => {
    const config = resolveProjectionRuntimeConfig({ topicPrefix: 'ev' });
    expect(config.schema).toBe('tributary');
    expect(config.retry).toMatchObject({ retries: 3, initialDelayMs: 100 });
    expect(groupIdFor(config, { name: 'balances', version: 2 })).toBe(
      'tributary.projection.balances.v2',
    );
    expect(topicFor(config, 'Account')).toBe('ev.Account');
  });

  it('refuses identifiers that could inject SQL and non-positive sizes', () => {
    expect(() => resolveProjectionRuntimeConfig({ schema: 'x"; drop table y; --' })).toThrow(
      /must match/,
    );
    expect(() => resolveProjectionRuntimeConfig({ maxBatchRecords: 0 })).toThrow(
      /positive integer/,
    );
  });
});

describe('record decoding', () => {
  it('reads the envelope from headers and decodes + upcasts the JSON payload', () => {
    const upcasters = new UpcasterChain([
      {
        eventType: 'AccountOpened',
        fromVersion: 1,
        upcast: (p) => ({ owner: { name: (p as { owner: string }).owner } }),
      },
    ]);
    const source = record(JSON.stringify(envelope.payload), {
      ...envelopeHeaders(envelope),
      'tributary.commit_lsn': '0/16B3748',
    });
    const event = decodeEvent(source, readEnvelope(source), upcasters);
    expect(event).toMatchObject({
      eventId: envelope.eventId,
      aggregateVersion: 3,
      schemaVersion: 2,
      payload: { owner: { name: 'Ann' } },
      metadata: { correlationId: 'c-1' },
      position: { topic: 'events.Account', partition: 2, offset: 41 },
      commitLsn: '0/16B3748',
    });
  });

  it('treats tombstones, non-JSON values and registry wire format as invalid events', () => {
    const upcasters = new UpcasterChain();
    const check = (source: SourceRecord) => () =>
      decodeEvent(source, readEnvelope(source), upcasters);
    expect(check(record(null))).toThrow(InvalidEventError);
    expect(check(record('{nope'))).toThrow(/not JSON/);
    expect(
      check(
        record('{}', {
          ...envelopeHeaders(envelope),
          'content-type': 'application/vnd.schemaregistry',
        }),
      ),
    ).toThrow(/not supported/);
  });
});

describe('fault injection', () => {
  it('parses TRIBUTARY_CRASH_AT / TRIBUTARY_PAUSE_AT and fires on the given hit', () => {
    const plans = faultPlansFromEnvironment({
      TRIBUTARY_CRASH_AT: 'after-commit@3',
      TRIBUTARY_PAUSE_AT: 'before-lock',
    });
    expect(plans).toEqual([
      { point: 'after-commit', signal: 'SIGKILL', atHit: 3 },
      { point: 'before-lock', signal: 'SIGSTOP', atHit: 1 },
    ]);
    const fired: string[] = [];
    const injector = new FaultInjector(plans, (plan) => fired.push(`${plan.point}:${plan.signal}`));
    for (let i = 0; i < 4; i += 1) injector.hit('after-commit');
    injector.hit('before-lock');
    expect(fired).toEqual(['after-commit:SIGKILL', 'before-lock:SIGSTOP']);
    expect(() => faultPlansFromEnvironment({ TRIBUTARY_CRASH_AT: 'sometime' })).toThrow(
      /Unknown fault point/,
    );
  });
});

describe('dead letters and progress', () => {
  it('names where a dead letter came from, who failed on it and why', () => {
    const error = new InvalidEventError('bad');
    expect(
      deadLetterHeaders(
        { topic: 't', partition: 1, offset: 9 },
        { projection: { name: 'p', version: 2 }, error, attempts: 4 },
        new Date(0),
      ),
    ).toEqual({
      'tributary.dlq.projection': 'p',
      'tributary.dlq.projection_version': '2',
      'tributary.dlq.source_topic': 't',
      'tributary.dlq.source_partition': '1',
      'tributary.dlq.source_offset': '9',
      'tributary.dlq.error': 'InvalidEventError: bad',
      'tributary.dlq.error_code': 'INVALID_EVENT',
      'tributary.dlq.attempts': '4',
      'tributary.dlq.failed_at': '1970-01-01T00:00:00.000Z',
    });
  });
});
