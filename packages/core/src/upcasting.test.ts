import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from './envelope.js';
import { UpcastError } from './errors.js';
import { UpcasterChain } from './upcasting.js';

const envelope = (schemaVersion: number, payload: unknown): EventEnvelope => ({
  eventId: '01890000-0000-7000-8000-000000000001',
  aggregateType: 'Account',
  aggregateId: 'a-1',
  aggregateVersion: 1,
  eventType: 'AccountOpened',
  schemaVersion,
  payload,
  metadata: {},
  occurredAt: '2026-01-01T00:00:00.000Z',
});

const chain = new UpcasterChain([
  {
    eventType: 'AccountOpened',
    fromVersion: 1,
    upcast: (payload) => ({ ...(payload as object), currency: 'EUR' }),
  },
  {
    eventType: 'AccountOpened',
    fromVersion: 2,
    upcast: (payload) => {
      const { owner, ...rest } = payload as { owner: string };
      return { ...rest, holder: { name: owner } };
    },
  },
]);

describe('UpcasterChain', () => {
  it('applies every step from the stored schema version to the newest', () => {
    const upcast = chain.upcast(envelope(1, { owner: 'Ann' }));
    expect(upcast.schemaVersion).toBe(3);
    expect(upcast.payload).toEqual({ currency: 'EUR', holder: { name: 'Ann' } });
  });

  it('starts from the stored version, skipping steps already applied', () => {
    const upcast = chain.upcast(envelope(2, { owner: 'Bob', currency: 'USD' }));
    expect(upcast.payload).toEqual({ currency: 'USD', holder: { name: 'Bob' } });
    expect(chain.targetVersion('AccountOpened', 1)).toBe(3);
  });

  it('returns the same object when no upcaster applies', () => {
    const current = envelope(3, { holder: { name: 'Cy' } });
    expect(chain.upcast(current)).toBe(current);
  });

  it('wraps a failing upcaster in an UpcastError naming type and version', () => {
    const failing = new UpcasterChain([
      {
        eventType: 'AccountOpened',
        fromVersion: 1,
        upcast: () => {
          throw new Error('bad data');
        },
      },
    ]);
    expect(() => failing.upcast(envelope(1, {}))).toThrow(UpcastError);
    expect(() => failing.upcast(envelope(1, {}))).toThrow(
      'Upcasting AccountOpened from schema version 1 failed',
    );
  });

  it('refuses two upcasters for the same type and version', () => {
    expect(
      () =>
        new UpcasterChain([
          { eventType: 'X', fromVersion: 1, upcast: (payload) => payload },
          { eventType: 'X', fromVersion: 1, upcast: (payload) => payload },
        ]),
    ).toThrow(/Two upcasters for X/);
  });
});
