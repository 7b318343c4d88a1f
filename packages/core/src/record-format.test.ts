import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from './envelope.js';
import { isTributaryError } from './errors.js';
import {
  envelopeFromHeaders,
  envelopeHeaders,
  EventHeaders,
  headerValue,
} from './record-format.js';

const envelope: EventEnvelope = {
  eventId: '01890000-0000-7000-8000-000000000001',
  aggregateType: 'Account',
  aggregateId: 'DE89 3704',
  aggregateVersion: 7,
  eventType: 'MoneyDeposited',
  schemaVersion: 2,
  payload: { amountCents: 100 },
  metadata: {
    correlationId: 'c-1',
    causationId: 'cmd-1',
    traceparent: '00-abc-def-01',
    userId: 'u',
  },
  occurredAt: '2026-01-02T03:04:05.678Z',
};

describe('record format', () => {
  it('round-trips the envelope through headers, also when values arrive as bytes', () => {
    const headers = envelopeHeaders(envelope);
    expect(headers[EventHeaders.correlationId]).toBe('c-1');
    expect(headers[EventHeaders.traceparent]).toBe('00-abc-def-01');
    const asBytes = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]),
    );
    const { payload: _payload, ...rest } = envelope;
    expect(envelopeFromHeaders(asBytes)).toEqual(rest);
    expect(envelopeFromHeaders(headers)).toEqual(rest);
  });

  it('reads the first of repeated header values', () => {
    expect(headerValue({ a: [Buffer.from('x'), 'y'] }, 'a')).toBe('x');
    expect(headerValue({}, 'a')).toBeUndefined();
  });

  it.each([
    [
      'a missing header',
      (h: Record<string, string>) => {
        delete h[EventHeaders.eventId];
      },
      /no "tributary.event_id" header/,
    ],
    [
      'a non-numeric version',
      (h: Record<string, string>) => {
        h[EventHeaders.aggregateVersion] = 'seven';
      },
      /aggregate version/,
    ],
    [
      'a zero version',
      (h: Record<string, string>) => {
        h[EventHeaders.aggregateVersion] = '0';
      },
      /aggregate version/,
    ],
    [
      'malformed metadata JSON',
      (h: Record<string, string>) => {
        h[EventHeaders.metadata] = '{';
      },
      /valid event envelope/,
    ],
    [
      'a bad event type',
      (h: Record<string, string>) => {
        h[EventHeaders.eventType] = 'two words';
      },
      /event type/,
    ],
  ])('rejects %s with a typed error', (_name, mutate, message) => {
    const headers = envelopeHeaders(envelope);
    mutate(headers);
    let error: unknown;
    try {
      envelopeFromHeaders(headers);
    } catch (caught) {
      error = caught;
    }
    expect(isTributaryError(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
  });
});
