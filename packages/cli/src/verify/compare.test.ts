import { describe, expect, it } from 'vitest';
import { compareProjection, compareWithKafka, type OutboxEventRef } from './compare.js';

const event = (eventId: string, aggregateId: string, aggregateVersion: number): OutboxEventRef => ({
  eventId,
  aggregateType: 'Ledger',
  aggregateId,
  aggregateVersion,
});
const record = (eventId: string, offset: number) => ({
  eventId,
  topic: 't',
  partition: 0,
  offset: String(offset),
});

describe('verify comparisons', () => {
  it('reports records the outbox does not hold only when the whole outbox was read', () => {
    const events = [event('e1', 'a', 1)];
    const records = [record('e1', 0), record('e9', 1)];
    expect(compareWithKafka(events, records, false)).toEqual([]);
    expect(compareWithKafka(events, records, true)).toEqual([
      { kind: 'unexpected', eventId: 'e9', position: 't/0@1' },
    ]);
  });

  it('finds projections ahead only without an upper bound, and says when an aggregate is parked', () => {
    const events = [event('e1', 'a', 1), event('e2', 'b', 1), event('e3', 'b', 2)];
    const projection = {
      projection: 'p',
      version: 1,
      aggregateTypes: ['Ledger'],
      aggregates: new Map([
        ['Ledger/a', { lastVersion: 3, parked: false }],
        ['Ledger/b', { lastVersion: 1, parked: true }],
      ]),
    };
    const common = { projection: 'p', version: 1, aggregateType: 'Ledger' };
    expect(compareProjection(events, projection, true)).toEqual([
      {
        kind: 'projection-ahead',
        ...common,
        aggregateId: 'a',
        expected: 1,
        actual: 3,
        parked: false,
      },
      {
        kind: 'projection-behind',
        ...common,
        aggregateId: 'b',
        expected: 2,
        actual: 1,
        parked: true,
      },
    ]);
    expect(compareProjection(events, projection, false).map((d) => d.kind)).toEqual([
      'projection-behind',
    ]);
    // Aggregate types the projection does not consume are not its business.
    expect(compareProjection(events, { ...projection, aggregateTypes: ['Other'] }, true)).toEqual(
      [],
    );
  });
});
