import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from './envelope.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  eventRecordSize,
  jsonbNumberText,
  jsonbTextBytes,
  renderJsonbText,
  unnumberedEventRecordSize,
} from './record-size.js';
import { prepareAppend } from './event-store.js';
import { isTributaryError } from './errors.js';
import { envelopeHeaders, EventHeaders } from './record-format.js';

const utf8 = (text: string): number => new TextEncoder().encode(text).byteLength;

describe('jsonb text rendering', () => {
  it('prints numbers the way numeric_out does: same digits, never an exponent', () => {
    expect(jsonbNumberText(1.5e-7)).toBe('0.00000015');
    expect(jsonbNumberText(-2.5e-10)).toBe('-0.00000000025');
    expect(jsonbNumberText(1e-7)).toBe('0.0000001');
    expect(jsonbNumberText(1e21)).toBe(`1${'0'.repeat(21)}`);
    expect(jsonbNumberText(1.2345e25)).toBe(`12345${'0'.repeat(21)}`);
    expect(jsonbNumberText(1e300)).toHaveLength(301);
    expect(jsonbNumberText(1e-300)).toBe(`0.${'0'.repeat(299)}1`);
    expect(jsonbNumberText(5e-324)).toBe(`0.${'0'.repeat(323)}5`);
    expect(jsonbNumberText(123.456)).toBe('123.456');
    expect(jsonbNumberText(-0)).toBe('0');
    expect(jsonbNumberText(0.000001)).toBe('0.000001');
  });

  it('adds a space after every separator and orders keys shorter first, then by bytes', () => {
    expect(renderJsonbText({ bb: 1, a: [1, 'x', null, true], c: { z: {}, y: [] } })).toBe(
      '{"a": [1, "x", null, true], "c": {"y": [], "z": {}}, "bb": 1}',
    );
    expect(renderJsonbText({ skipped: undefined, kept: 1 })).toBe('{"kept": 1}');
  });

  it('escapes strings like JSON.stringify and keeps other characters as UTF-8', () => {
    const text = 'quote " backslash \\ tab \t newline \n bell \u0007 é 🎉 \u2028';
    expect(renderJsonbText(text)).toBe(JSON.stringify(text));
  });

  it('measures the UTF-8 size of the rendering without building it', () => {
    const values: unknown[] = [
      {},
      [],
      'plain',
      42,
      { nested: { deeper: [{ a: 1e-300 }, [1.5e-7, -3e-9]], text: 'é🎉\n"' } },
      { many: Array.from({ length: 50 }, (_, index) => index * 1.1e-8) },
      [null, undefined, { x: undefined, y: 2 }],
      { ключ: 'значение', '🎉': ['\u0001', '\\'] },
    ];
    for (const value of values) {
      expect(jsonbTextBytes(value), renderJsonbText(value)).toBe(utf8(renderJsonbText(value)));
      expect(jsonbTextBytes(value, utf8(JSON.stringify(value)))).toBe(jsonbTextBytes(value));
    }
  });
});

const envelope: EventEnvelope = {
  eventId: '01890a5d-ac96-774b-bcce-b302099a8057',
  aggregateType: 'Account',
  aggregateId: 'acc-é',
  aggregateVersion: 7,
  eventType: 'MoneyDeposited',
  schemaVersion: 1,
  payload: { amount: 1e-300, note: 'é' },
  metadata: { correlationId: 'c-1', causationId: 'k-1', tenant: 'ü' },
  occurredAt: '2026-01-02T03:04:05.678Z',
};

describe('eventRecordSize', () => {
  it('counts key, jsonb value, headers and Kafka framing', () => {
    const exact = eventRecordSize(envelope, { commitLsn: '0/16B3748', transactionSequence: 0 });
    expect(exact.keyBytes).toBe(utf8('acc-é'));
    expect(exact.valueBytes).toBe(utf8(renderJsonbText(envelope.payload)));
    expect(exact.valueBytes).toBeGreaterThan(300);
    // 61 batch header + record framing: more than the parts, by a bounded amount.
    const parts = exact.keyBytes + exact.valueBytes + exact.headerBytes;
    expect(exact.totalBytes - parts).toBeGreaterThanOrEqual(61 + 3);
    expect(exact.totalBytes - parts).toBeLessThan(61 + 60);
  });

  it('is an upper bound when the commit LSN and sequence are not known yet', () => {
    const exact = eventRecordSize(envelope, { commitLsn: '0/0', transactionSequence: 0 });
    const bound = eventRecordSize(envelope);
    expect(bound.totalBytes - exact.totalBytes).toBe(14 + 9);
    const { aggregateVersion: _version, ...unnumbered } = envelope;
    expect(unnumberedEventRecordSize(unnumbered).totalBytes - bound.totalBytes).toBe(9);
  });

  it('counts exactly the headers of the record format, plus the commit LSN and sequence', () => {
    const variants: EventEnvelope[] = [
      envelope,
      { ...envelope, metadata: {} },
      { ...envelope, metadata: { traceparent: 't', correlationId: 'ç', nested: { n: 1e-9 } } },
      { ...envelope, aggregateVersion: 123_456, schemaVersion: 12, occurredAt: '2026-01-02' },
    ];
    for (const variant of variants) {
      const headers = envelopeHeaders({
        ...variant,
        occurredAt: new Date(variant.occurredAt).toISOString(),
      });
      headers[EventHeaders.commitLsn] = 'AB/CDEF0123';
      headers[EventHeaders.transactionSequence] = '42';
      const expected = Object.entries(headers).reduce(
        (sum, [name, value]) => sum + utf8(name) + utf8(value),
        0,
      );
      const size = eventRecordSize(variant, { commitLsn: 'AB/CDEF0123', transactionSequence: 42 });
      expect(size.headerBytes).toBe(expected);
    }
  });

  it('reads occurredAt as capture publishes it: ISO-8601 with milliseconds', () => {
    const short = eventRecordSize({ ...envelope, occurredAt: '2026-01-02' });
    expect(short.totalBytes).toBe(eventRecordSize(envelope).totalBytes);
  });
});

describe('prepareAppend', () => {
  const options = { idGenerator: () => envelope.eventId, clock: () => new Date(0) };
  const stream = { aggregateType: 'Account', aggregateId: 'acc-1' };

  it('refuses an event whose record would exceed maxRecordBytes, naming the event and sizes', () => {
    // Tiny as JSON (7 bytes a number), 302 bytes a number as jsonb text.
    const data = { values: Array.from({ length: 3_500 }, () => 1e-300) };
    expect(utf8(JSON.stringify(data))).toBeLessThan(30_000);
    let caught: unknown;
    try {
      prepareAppend(stream, [{ type: 'Tiny', data }], 'any', options);
    } catch (error) {
      caught = error;
    }
    expect(isTributaryError(caught, 'RECORD_TOO_LARGE')).toBe(true);
    expect((caught as Error).message).toContain(envelope.eventId);
    expect((caught as Error).message).toContain('Account/acc-1');
    expect((caught as Error).message).toContain(`over maxRecordBytes ${DEFAULT_MAX_RECORD_BYTES}`);
    const details = (caught as { details: Record<string, number> }).details;
    expect(details['recordBytes']).toBeGreaterThan(1_000_000);
  });

  it('accepts an event exactly at the limit and refuses one byte more', () => {
    const event = { type: 'Sized', data: { text: 'x'.repeat(1_000) } };
    const [prepared] = prepareAppend(stream, [event], 'any', options);
    if (prepared === undefined) throw new Error('nothing prepared');
    const size = unnumberedEventRecordSize({ ...prepared, ...stream, payload: prepared.payload });
    expect(
      prepareAppend(stream, [event], 'any', { ...options, maxRecordBytes: size.totalBytes }),
    ).toHaveLength(1);
    expect(() =>
      prepareAppend(stream, [event], 'any', { ...options, maxRecordBytes: size.totalBytes - 1 }),
    ).toThrow(/RECORD|record of/);
  });

  it('refuses lone UTF-16 surrogates, which PostgreSQL jsonb rejects', () => {
    expect(() =>
      prepareAppend(stream, [{ type: 'Broken', data: { text: 'a\ud800b' } }], 'any', options),
    ).toThrow(/lone UTF-16 surrogate/);
    expect(
      prepareAppend(stream, [{ type: 'Fine', data: { text: '🎉' } }], 'any', options),
    ).toHaveLength(1);
  });

  it('refuses an occurredAt outside the years 0001–9999', () => {
    expect(() =>
      prepareAppend(
        stream,
        [{ type: 'Far', data: {}, occurredAt: '+010000-01-01T00:00:00.000Z' }],
        'any',
        options,
      ),
    ).toThrow(/outside the years/);
  });
});

describe('the cost of the check at append', () => {
  it('is printed per event next to the whole preparation (a measurement, not an assertion on time)', () => {
    const stream = { aggregateType: 'Account', aggregateId: 'acc-1' };
    const options = { idGenerator: () => envelope.eventId, clock: () => new Date(0) };
    const typical = {
      type: 'MoneyDeposited',
      data: { amount: 125.5, currency: 'EUR', reference: 'inv-2026-0001', tags: ['a', 'b'] },
      metadata: { correlationId: 'c-1', causationId: 'k-1', userId: 'u-7' },
    };
    const large = { type: 'DocumentAttached', data: { text: 'é'.repeat(50_000), n: 1e-9 } };
    const lines: string[] = [];
    for (const [name, event, rounds] of [
      ['typical event', typical, 20_000],
      ['100 KB event', large, 200],
    ] as const) {
      const [prepared] = prepareAppend(stream, [event], 'any', options);
      if (prepared === undefined) throw new Error('nothing prepared');
      const unnumbered = { ...prepared, ...stream };
      const sizes = new Set<number>();
      // Warm-up, so the figures are not the JIT compiling.
      for (let round = 0; round < rounds; round += 1) {
        unnumberedEventRecordSize(unnumbered, { payloadJsonBytes: prepared.payloadBytes });
        prepareAppend(stream, [event], 'any', options);
      }
      let started = performance.now();
      for (let round = 0; round < rounds; round += 1) {
        sizes.add(
          unnumberedEventRecordSize(unnumbered, { payloadJsonBytes: prepared.payloadBytes })
            .totalBytes,
        );
      }
      const checkMicros = ((performance.now() - started) * 1000) / rounds;
      started = performance.now();
      for (let round = 0; round < rounds; round += 1)
        prepareAppend(stream, [event], 'any', options);
      const prepareMicros = ((performance.now() - started) * 1000) / rounds;
      expect(sizes.size).toBe(1);
      lines.push(
        `${name}: size check ${checkMicros.toFixed(2)} µs, whole prepareAppend (check included) ${prepareMicros.toFixed(2)} µs`,
      );
    }
    console.info(`record size check at append:\n  ${lines.join('\n  ')}`);
  });
});
