import { describe, expect, it } from 'vitest';
import {
  defineReactor,
  derivedMessageId,
  dueAtOf,
  InvalidReactorError,
  resolveReactorRuntimeConfig,
  type AnyReactor,
} from './index.js';

const valid: AnyReactor = {
  name: 'reserve_stock',
  events: { Order: ['OrderConfirmed'] },
  handle: () => undefined,
};

describe('defineReactor', () => {
  it('accepts a valid reactor and refuses malformed ones with REACTOR_INVALID naming the fault', () => {
    expect(defineReactor(valid)).toBe(valid);
    const bad: [Partial<AnyReactor>, RegExp][] = [
      [{ name: 'Reserve-Stock' }, /name must match/],
      [{ version: 0 }, /version must be a positive integer/],
      [{ events: {} }, /at least one aggregate type/],
      [{ events: { Order: [] } }, /events.Order must list at least one event type/],
      [{ events: { Order: ['A'], Payment: ['A'] } }, /"A" is listed twice/],
      [{ handle: 'x' as never }, /handle is not a function/],
    ];
    for (const [override, message] of bad) {
      const attempt = () => defineReactor({ ...valid, ...override });
      expect(attempt).toThrow(InvalidReactorError);
      expect(attempt).toThrow(message);
    }
  });
});

describe('derived ids and schedules', () => {
  it('derives the same command id for the same (reactor, event, index), a distinct one otherwise, within the command-id limit', () => {
    const id = derivedMessageId('r', 'e-1', 'c', 0);
    expect(derivedMessageId('r', 'e-1', 'c', 0)).toBe(id);
    expect(derivedMessageId('r', 'e-1', 'c', 1)).not.toBe(id);
    expect(derivedMessageId('r', 'e-1', 's', 0)).not.toBe(id);
    expect(derivedMessageId('other', 'e-1', 'c', 0)).not.toBe(id);
    const long = derivedMessageId('r', 'x'.repeat(300), 'c', 0);
    expect(long.length).toBeLessThanOrEqual(200);
    expect(derivedMessageId('r', 'x'.repeat(300), 'c', 0)).toBe(long);
  });

  it('computes due times and refuses an unusable schedule with REACTOR_SCHEDULE_INVALID', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    expect(dueAtOf({ after: 1_000 }, now).toISOString()).toBe('2026-01-01T00:00:01.000Z');
    expect(dueAtOf({ at: '2026-02-01T00:00:00Z' }, now).toISOString()).toBe(
      '2026-02-01T00:00:00.000Z',
    );
    expect(() => dueAtOf({ after: -1 }, now)).toThrow(/REACTOR_SCHEDULE_INVALID|at: Date/);
    expect(() => dueAtOf({ at: 'tomorrow' }, now)).toThrow(/schedule needs/);
  });

  it('gives reactors their own tables and groups by default', () => {
    const config = resolveReactorRuntimeConfig();
    expect(config).toMatchObject({
      checkpointsTable: 'reactor_checkpoints',
      groupIdPrefix: 'tributary.reactor',
      deadlinesTable: 'reactor_deadlines',
      deadlinePollIntervalMs: 1_000,
    });
    expect(() => resolveReactorRuntimeConfig({ deadlineBatchSize: 0 })).toThrow(/positive integer/);
  });
});
