import { describe, expect, it } from 'vitest';
import { tally, type CommittedEvent } from './verifier.js';

const event = (eventId: string, stream: string, version: number): CommittedEvent => ({
  eventId,
  stream,
  version,
});
const committed = [event('a1', 'A/1', 1), event('a2', 'A/1', 2), event('b1', 'B/1', 1)];

describe('tally', () => {
  it('counts nothing when every committed event is seen once in order', () => {
    expect(tally(committed, [[committed[0]!, committed[2]!, committed[1]!]], new Set())).toEqual({
      seen: 3,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      phantom: 0,
    });
  });

  it('counts a committed event never seen as lost', () => {
    expect(tally(committed, [[committed[0]!, committed[1]!]], new Set()).lost).toBe(1);
  });

  it('counts a second sighting as a duplicate, also across partitions, not as disorder', () => {
    const result = tally(committed, [committed, [committed[0]!]], new Set());
    expect(result.duplicated).toBe(1);
    expect(result.outOfOrder).toBe(0);
  });

  it('counts a lower version after a higher one of the same aggregate as out of order', () => {
    const result = tally(committed, [[committed[1]!, committed[0]!, committed[2]!]], new Set());
    expect(result.outOfOrder).toBe(1);
    expect(result.lost).toBe(0);
  });

  it('counts a visible event of a rolled-back transaction as a phantom', () => {
    const rolledBack = event('r1', 'A/1', 3);
    const result = tally(committed, [[...committed, rolledBack]], new Set(['r1', 'r2']));
    expect(result.phantom).toBe(1);
  });
});
