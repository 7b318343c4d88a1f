import {
  ConcurrencyError,
  isTributaryError,
  uuidV7,
  type EventStore,
  type NewEvent,
  type StreamRef,
} from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIdempotentCommands } from './event-store-commands.contract.js';
import { describeCommandIdRules, describeRecordSizeRules } from './event-store-keys.contract.js';
import { deposited, expectCode, freshStream, opened } from './event-store-support.js';

/** What a contract suite needs from the store under test. */
export interface EventStoreFixture {
  readonly store: EventStore;
  /** Releases connections, drops databases… */
  readonly teardown?: () => Promise<void>;
}

/**
 * The behaviour every {@link EventStore} must have. `InMemoryEventStore` and
 * `PostgresEventStore` both run it, so the in-memory store used in tests cannot drift from
 * the real one.
 */
export function describeEventStoreContract(
  name: string,
  createFixture: () => Promise<EventStoreFixture>,
): void {
  describe(`EventStore contract: ${name}`, () => {
    let fixture: EventStoreFixture;
    let store: EventStore;

    beforeAll(async () => {
      fixture = await createFixture();
      store = fixture.store;
    });
    afterAll(async () => {
      await fixture.teardown?.();
    });

    describe('reading', () => {
      it('reads a missing stream as version 0 with no events', async () => {
        const result = await store.readStream(freshStream());
        expect(result.currentVersion).toBe(0);
        expect(result.events).toEqual([]);
      });

      it('returns appended events in order with versions 1..n and the full envelope', async () => {
        const stream = freshStream();
        const eventId = uuidV7();
        const occurredAt = '2026-01-02T03:04:05.678Z';
        await store.appendToStream(stream, [
          {
            eventId,
            type: 'AccountOpened',
            data: { owner: 'Ann', tags: ['vip'], nested: { n: 1.5, ok: true, none: null } },
            schemaVersion: 2,
            metadata: { correlationId: 'corr-1', causationId: 'cmd-1', userId: 'u-7' },
            occurredAt,
          },
          deposited(10),
          deposited(20),
        ]);
        const { events, currentVersion } = await store.readStream(stream);
        expect(currentVersion).toBe(3);
        expect(events.map((event) => event.aggregateVersion)).toEqual([1, 2, 3]);
        expect(events.map((event) => event.eventType)).toEqual([
          'AccountOpened',
          'MoneyDeposited',
          'MoneyDeposited',
        ]);
        expect(events[0]).toEqual({
          eventId,
          aggregateType: stream.aggregateType,
          aggregateId: stream.aggregateId,
          aggregateVersion: 1,
          eventType: 'AccountOpened',
          schemaVersion: 2,
          payload: { owner: 'Ann', tags: ['vip'], nested: { n: 1.5, ok: true, none: null } },
          metadata: { correlationId: 'corr-1', causationId: 'cmd-1', userId: 'u-7' },
          occurredAt,
        });
        expect(events[1]?.schemaVersion).toBe(1);
        expect(events[2]?.payload).toEqual({ amount: 20 });
      });

      it('reads from a version and at most maxCount events, reporting the stream version', async () => {
        const stream = freshStream();
        await store.appendToStream(stream, [opened(), deposited(1), deposited(2), deposited(3)]);
        const tail = await store.readStream(stream, { fromVersion: 3 });
        expect(tail.events.map((event) => event.aggregateVersion)).toEqual([3, 4]);
        const window = await store.readStream(stream, { fromVersion: 2, maxCount: 2 });
        expect(window.events.map((event) => event.aggregateVersion)).toEqual([2, 3]);
        expect(window.currentVersion).toBe(4);
        const beyond = await store.readStream(stream, { fromVersion: 10 });
        expect(beyond.events).toEqual([]);
      });

      it('keeps streams of different aggregate types with the same id apart', async () => {
        const account = freshStream('Account');
        const customer = { aggregateType: 'Customer', aggregateId: account.aggregateId };
        await store.appendToStream(account, [opened()]);
        await store.appendToStream(customer, [
          { type: 'CustomerRegistered', data: {} },
          { type: 'CustomerRenamed', data: {} },
        ]);
        expect((await store.readStream(account)).currentVersion).toBe(1);
        expect((await store.readStream(customer)).currentVersion).toBe(2);
      });

      it('rejects invalid read options with INVALID_VERSION', async () => {
        await expectCode(store.readStream(freshStream(), { fromVersion: 0 }), 'INVALID_VERSION');
        await expectCode(store.readStream(freshStream(), { fromVersion: 1.5 }), 'INVALID_VERSION');
        await expectCode(store.readStream(freshStream(), { maxCount: -1 }), 'INVALID_VERSION');
      });
    });

    describe('optimistic concurrency', () => {
      it("appends with 'no-stream' only to a new stream", async () => {
        const stream = freshStream();
        const first = await store.appendToStream(stream, [opened()], {
          expectedVersion: 'no-stream',
        });
        expect(first).toMatchObject({ status: 'appended', nextExpectedVersion: 1 });
        const error = await store
          .appendToStream(stream, [opened()], { expectedVersion: 'no-stream' })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({
          code: 'CONCURRENCY_CONFLICT',
          retriable: true,
          expectedVersion: 'no-stream',
          actualVersion: 1,
        });
      });

      it('appends with an exact expected version and reports expected and actual on conflict', async () => {
        const stream = freshStream();
        await store.appendToStream(stream, [opened()], { expectedVersion: 0 });
        const second = await store.appendToStream(stream, [deposited(5)], { expectedVersion: 1 });
        expect(second.nextExpectedVersion).toBe(2);
        expect(second.events.map((event) => event.aggregateVersion)).toEqual([2]);
        const error = await store
          .appendToStream(stream, [deposited(6)], { expectedVersion: 1 })
          .catch((caught: unknown) => caught);
        expect(error).toMatchObject({
          code: 'CONCURRENCY_CONFLICT',
          expectedVersion: 1,
          actualVersion: 2,
        });
        expect((await store.readStream(stream)).currentVersion).toBe(2);
      });

      it("appends with 'any' whatever the version", async () => {
        const stream = freshStream();
        await store.appendToStream(stream, [opened()]);
        const result = await store.appendToStream(stream, [deposited(1)], {
          expectedVersion: 'any',
        });
        expect(result.nextExpectedVersion).toBe(2);
      });

      it('lets exactly one of many concurrent appends at the same version win', async () => {
        const stream = freshStream();
        await store.appendToStream(stream, [opened()]);
        const attempts = await Promise.allSettled(
          Array.from({ length: 10 }, (_, index) =>
            store.appendToStream(stream, [deposited(index)], { expectedVersion: 1 }),
          ),
        );
        const won = attempts.filter((attempt) => attempt.status === 'fulfilled');
        const lost = attempts.filter((attempt) => attempt.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(9);
        for (const attempt of lost) {
          expect(isTributaryError(attempt.reason, 'CONCURRENCY_CONFLICT')).toBe(true);
        }
        const { events } = await store.readStream(stream);
        expect(events.map((event) => event.aggregateVersion)).toEqual([1, 2]);
      });
    });

    describe('idempotency', () => {
      it('writes a repeated append of the same event ids once and reports it as duplicate', async () => {
        const stream = freshStream();
        const events: NewEvent[] = [
          { ...opened(), eventId: uuidV7() },
          { ...deposited(3), eventId: uuidV7() },
        ];
        const first = await store.appendToStream(stream, events, { expectedVersion: 'no-stream' });
        const again = await store.appendToStream(stream, events, { expectedVersion: 'no-stream' });
        expect(first.status).toBe('appended');
        expect(again.status).toBe('duplicate');
        expect(again.nextExpectedVersion).toBe(2);
        expect(again.events.map((event) => event.eventId)).toEqual(
          first.events.map((event) => event.eventId),
        );
        expect((await store.readStream(stream)).events).toHaveLength(2);
      });

      it('rejects an append that repeats only some stored event ids, writing nothing', async () => {
        const stream = freshStream();
        const storedId = uuidV7();
        await store.appendToStream(stream, [{ ...opened(), eventId: storedId }]);
        await expectCode(
          store.appendToStream(stream, [{ ...deposited(1), eventId: storedId }, deposited(2)]),
          'DUPLICATE_EVENT_ID',
        );
        expect((await store.readStream(stream)).currentVersion).toBe(1);
      });

      it('rejects an event id that is stored in another stream', async () => {
        const eventId = uuidV7();
        await store.appendToStream(freshStream(), [{ ...opened(), eventId }]);
        const other = freshStream();
        await expectCode(
          store.appendToStream(other, [{ ...opened(), eventId }]),
          'DUPLICATE_EVENT_ID',
        );
        expect((await store.readStream(other)).currentVersion).toBe(0);
      });

      it('rejects the same event id twice in one append', async () => {
        const eventId = uuidV7();
        const stream = freshStream();
        await expectCode(
          store.appendToStream(stream, [
            { ...opened(), eventId },
            { ...deposited(1), eventId },
          ]),
          'INVALID_EVENT',
        );
        expect((await store.readStream(stream)).currentVersion).toBe(0);
      });
    });

    describe('multi-stream appends', () => {
      it('appends to several streams atomically', async () => {
        const from = freshStream();
        const to = freshStream();
        const results = await store.appendMany([
          { stream: from, events: [opened('A'), deposited(1)], expectedVersion: 'no-stream' },
          { stream: to, events: [opened('B')], expectedVersion: 'no-stream' },
        ]);
        expect(results.map((result) => result.nextExpectedVersion)).toEqual([2, 1]);
        expect((await store.readStream(from)).currentVersion).toBe(2);
        expect((await store.readStream(to)).currentVersion).toBe(1);
      });

      it('writes nothing when one stream of a multi-stream append conflicts', async () => {
        const from = freshStream();
        const to = freshStream();
        await store.appendToStream(to, [opened('B')]);
        await expectCode(
          store.appendMany([
            { stream: from, events: [opened('A')], expectedVersion: 'no-stream' },
            { stream: to, events: [deposited(1)], expectedVersion: 'no-stream' },
          ]),
          'CONCURRENCY_CONFLICT',
        );
        expect((await store.readStream(from)).currentVersion).toBe(0);
        expect((await store.readStream(to)).currentVersion).toBe(1);
      });

      it('writes nothing when one stream of a multi-stream append is invalid', async () => {
        const valid = freshStream();
        await expectCode(
          store.appendMany([
            { stream: valid, events: [opened('A')] },
            { stream: freshStream(), events: [{ type: 'Bad type!', data: {} }] },
          ]),
          'INVALID_IDENTIFIER',
        );
        expect((await store.readStream(valid)).currentVersion).toBe(0);
      });
    });

    describeIdempotentCommands(() => store);
    describeCommandIdRules(() => store);
    describeRecordSizeRules(() => store);

    describe('bad input gets a typed error and writes nothing', () => {
      const cases: readonly [string, (stream: StreamRef) => Promise<unknown>, string][] = [
        [
          'an aggregate type with a dot',
          (s) => store.appendToStream({ ...s, aggregateType: 'Bank.Account' }, [opened()]),
          'INVALID_IDENTIFIER',
        ],
        [
          'an aggregate type with SQL in it',
          (s) =>
            store.appendToStream({ ...s, aggregateType: "x'; drop table events;--" }, [opened()]),
          'INVALID_IDENTIFIER',
        ],
        [
          'an empty aggregate id',
          (s) => store.appendToStream({ ...s, aggregateId: '' }, [opened()]),
          'INVALID_IDENTIFIER',
        ],
        [
          'an aggregate id with a NUL',
          (s) => store.appendToStream({ ...s, aggregateId: 'a\u0000b' }, [opened()]),
          'INVALID_IDENTIFIER',
        ],
        [
          'an event type with spaces',
          (s) => store.appendToStream(s, [{ type: 'Money Deposited', data: {} }]),
          'INVALID_IDENTIFIER',
        ],
        [
          'an event id that is not a UUID',
          (s) => store.appendToStream(s, [{ ...opened(), eventId: 'not-a-uuid' }]),
          'INVALID_IDENTIFIER',
        ],
        [
          'a negative expected version',
          (s) => store.appendToStream(s, [opened()], { expectedVersion: -1 }),
          'INVALID_VERSION',
        ],
        [
          'a NaN expected version',
          (s) => store.appendToStream(s, [opened()], { expectedVersion: Number.NaN }),
          'INVALID_VERSION',
        ],
        [
          'a fractional expected version',
          (s) => store.appendToStream(s, [opened()], { expectedVersion: 0.5 }),
          'INVALID_VERSION',
        ],
        [
          'a schema version of 0',
          (s) => store.appendToStream(s, [{ ...opened(), schemaVersion: 0 }]),
          'INVALID_VERSION',
        ],
        ['an empty append', (s) => store.appendToStream(s, []), 'INVALID_EVENT'],
        [
          'a payload over 1 MiB',
          (s) => store.appendToStream(s, [{ type: 'Blob', data: { text: 'x'.repeat(1_048_577) } }]),
          'INVALID_EVENT',
        ],
        [
          'a \\u0000 inside the payload',
          (s) => store.appendToStream(s, [{ type: 'Note', data: { text: 'a\u0000b' } }]),
          'INVALID_EVENT',
        ],
        [
          'an integer beyond 2^53',
          (s) => store.appendToStream(s, [{ type: 'Big', data: { n: 2 ** 53 + 2 } }]),
          'INVALID_EVENT',
        ],
        [
          'a NaN number in the payload',
          (s) => store.appendToStream(s, [{ type: 'Nan', data: { n: Number.NaN } }]),
          'INVALID_EVENT',
        ],
        [
          'a bigint in the payload',
          (s) => store.appendToStream(s, [{ type: 'Big', data: { n: 10n } }]),
          'INVALID_EVENT',
        ],
        [
          'a Date object in the payload',
          (s) => store.appendToStream(s, [{ type: 'Dated', data: { at: new Date() } }]),
          'INVALID_EVENT',
        ],
        [
          'a lone UTF-16 surrogate in the payload',
          (s) => store.appendToStream(s, [{ type: 'Note', data: { text: 'a\ud800b' } }]),
          'INVALID_EVENT',
        ],
        [
          'an occurredAt after the year 9999',
          (s) =>
            store.appendToStream(s, [{ ...opened(), occurredAt: '+010000-01-01T00:00:00.000Z' }]),
          'INVALID_EVENT',
        ],
        [
          'an invalid occurredAt',
          (s) => store.appendToStream(s, [{ ...opened(), occurredAt: 'yesterday' }]),
          'INVALID_EVENT',
        ],
      ];
      for (const [description, act, code] of cases) {
        it(`rejects ${description} with ${code}`, async () => {
          const stream = freshStream();
          await expectCode(act(stream), code);
          expect((await store.readStream(stream)).currentVersion).toBe(0);
        });
      }
    });
  });
}
