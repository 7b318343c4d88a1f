/**
 * Event store contract: command ids recorded with appends, and the record size limit. Run by
 * `describeEventStoreContract`, so both stores are held to the same rules.
 */
import {
  DEFAULT_MAX_RECORD_BYTES,
  isTributaryError,
  uuidV7,
  type EventStore,
} from '@tributary/core';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  deposited,
  eventOfRecordSize,
  expectCode,
  freshStream,
  opened,
} from './event-store-support.js';

/** Command ids (idempotency keys) at the store level. */
export function describeCommandIdRules(getStore: () => EventStore): void {
  let store: EventStore;
  beforeEachStore(getStore, (current) => {
    store = current;
  });
  describe('command ids (idempotency keys)', () => {
    it('records the command with its events; the same command id again appends nothing and returns the original events', async () => {
      const stream = freshStream();
      const commandId = `cmd-${uuidV7()}`;
      const first = await store.appendToStream(stream, [opened(), deposited(5)], {
        expectedVersion: 'no-stream',
        commandId,
      });
      expect(first.status).toBe('appended');
      const again = await store.appendToStream(stream, [deposited(99)], {
        expectedVersion: 0,
        commandId,
      });
      expect(again.status).toBe('duplicate');
      expect(again.nextExpectedVersion).toBe(2);
      expect(again.events.map((event) => event.eventId)).toEqual(
        first.events.map((event) => event.eventId),
      );
      expect((await store.readStream(stream)).currentVersion).toBe(2);
      expect(await store.findCommand(commandId)).toEqual({
        commandId,
        stream,
        fromVersion: 1,
        toVersion: 2,
      });
      expect(await store.findCommand(`cmd-${uuidV7()}`)).toBeUndefined();
    });

    it('records a command that appended no events, so its retry appends nothing either', async () => {
      const stream = freshStream();
      await store.appendToStream(stream, [opened()]);
      const commandId = `cmd-${uuidV7()}`;
      const none = await store.appendToStream(stream, [], { expectedVersion: 1, commandId });
      expect(none).toMatchObject({ status: 'appended', nextExpectedVersion: 1, events: [] });
      const retry = await store.appendToStream(stream, [deposited(1)], { commandId });
      expect(retry).toMatchObject({ status: 'duplicate', nextExpectedVersion: 1, events: [] });
      expect(await store.findCommand(commandId)).toMatchObject({ fromVersion: 2, toVersion: 1 });
      expect((await store.readStream(stream)).currentVersion).toBe(1);
    });

    it('rejects a command id already used for another stream, writing nothing', async () => {
      const commandId = `cmd-${uuidV7()}`;
      await store.appendToStream(freshStream(), [opened()], { commandId });
      const other = freshStream();
      await expectCode(store.appendToStream(other, [opened()], { commandId }), 'COMMAND_ID_REUSED');
      expect((await store.readStream(other)).currentVersion).toBe(0);
    });

    it('lets exactly one of concurrent appends with the same command id write; the others return its events without error', async () => {
      const stream = freshStream();
      const commandId = `cmd-${uuidV7()}`;
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, n) =>
          store.appendToStream(stream, [deposited(n)], { expectedVersion: 0, commandId }),
        ),
      );
      const written = results.filter((result) => result.status === 'appended');
      expect(written).toHaveLength(1);
      const ids = written[0]?.events.map((event) => event.eventId);
      for (const result of results) {
        expect(result.events.map((event) => event.eventId)).toEqual(ids);
      }
      expect((await store.readStream(stream)).currentVersion).toBe(1);
    });

    it('rejects an empty or control-character command id and one used twice in an appendMany', async () => {
      const stream = freshStream();
      await expectCode(
        store.appendToStream(stream, [opened()], { commandId: '' }),
        'INVALID_IDENTIFIER',
      );
      await expectCode(
        store.appendToStream(stream, [opened()], { commandId: 'a\nb' }),
        'INVALID_IDENTIFIER',
      );
      await expectCode(
        store.appendMany([
          { stream, events: [opened()], commandId: 'same' },
          { stream: freshStream(), events: [opened()], commandId: 'same' },
        ]),
        'INVALID_EVENT',
      );
      expect((await store.readStream(stream)).currentVersion).toBe(0);
    });
  });
}

/** Events whose Kafka record would be too large are refused at append. */
export function describeRecordSizeRules(getStore: () => EventStore): void {
  let store: EventStore;
  beforeEachStore(getStore, (current) => {
    store = current;
  });
  describe('record size', () => {
    it('refuses an event whose Kafka record would exceed the maximum record size, writing nothing of the append', async () => {
      const stream = freshStream();
      // 7 bytes a number as JSON, 302 as PostgreSQL prints jsonb: the record is over 1 MiB.
      const eventId = uuidV7();
      const tiny = { values: Array.from({ length: 3_500 }, () => 1e-300) };
      const error = await store
        .appendToStream(stream, [opened(), { eventId, type: 'Tiny', data: tiny }])
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(isTributaryError(error, 'RECORD_TOO_LARGE'), String(error)).toBe(true);
      const details = (error as { details: Record<string, unknown> }).details;
      expect(details).toMatchObject({
        eventId,
        eventType: 'Tiny',
        aggregateType: stream.aggregateType,
        aggregateId: stream.aggregateId,
        maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
      });
      expect(details['recordBytes']).toBeGreaterThan(DEFAULT_MAX_RECORD_BYTES);
      expect((await store.readStream(stream)).currentVersion).toBe(0);
    });

    it('accepts an event at exactly the maximum record size and refuses one a byte larger', async () => {
      const stream = freshStream();
      await expectCode(
        store.appendToStream(stream, [eventOfRecordSize(stream, DEFAULT_MAX_RECORD_BYTES + 1)]),
        'RECORD_TOO_LARGE',
      );
      const result = await store.appendToStream(stream, [
        eventOfRecordSize(stream, DEFAULT_MAX_RECORD_BYTES),
      ]);
      expect(result.nextExpectedVersion).toBe(1);
    });
  });
}

function beforeEachStore(getStore: () => EventStore, set: (store: EventStore) => void): void {
  beforeEach(() => {
    set(getStore());
  });
}
