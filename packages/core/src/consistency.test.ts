import { describe, expect, it } from 'vitest';
import {
  decodeConsistencyToken,
  encodeConsistencyToken,
  InvalidConsistencyTokenError,
  mergeConsistencyTokens,
} from './consistency.js';
import { isTributaryError } from './errors.js';

describe('consistency tokens', () => {
  it('round-trip positions through a header-safe string', () => {
    const positions = [
      { aggregateType: 'Account', aggregateId: 'DE89 3704/ä"', version: 7 },
      { aggregateType: 'Transfer', aggregateId: 't-1', version: 1 },
    ];
    const token = encodeConsistencyToken(positions);
    expect(token).toMatch(/^c1\.[A-Za-z0-9_-]+$/);
    expect(decodeConsistencyToken(token)).toEqual(positions);
  });

  it('keep the highest version per aggregate when merged', () => {
    const a = encodeConsistencyToken([{ aggregateType: 'A', aggregateId: '1', version: 3 }]);
    const b = encodeConsistencyToken([
      { aggregateType: 'A', aggregateId: '1', version: 5 },
      { aggregateType: 'A', aggregateId: '2', version: 1 },
    ]);
    expect(decodeConsistencyToken(mergeConsistencyTokens(b, a))).toEqual([
      { aggregateType: 'A', aggregateId: '1', version: 5 },
      { aggregateType: 'A', aggregateId: '2', version: 1 },
    ]);
  });

  it.each([
    ['', 'no c1. prefix'],
    ['c1.!!!', 'not base64url JSON'],
    [`c1.${Buffer.from('{"a":1}').toString('base64url')}`, 'not a list'],
    [`c1.${Buffer.from('[["A","1",-1]]').toString('base64url')}`, 'malformed position'],
    [`c1.${Buffer.from('[["A",1,2]]').toString('base64url')}`, 'malformed position'],
  ])('reject %j with a typed error (%s)', (token, reason) => {
    let caught: unknown;
    try {
      decodeConsistencyToken(token);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidConsistencyTokenError);
    expect(isTributaryError(caught, 'INVALID_CONSISTENCY_TOKEN')).toBe(true);
    expect((caught as Error).message).toContain(reason);
  });
});
