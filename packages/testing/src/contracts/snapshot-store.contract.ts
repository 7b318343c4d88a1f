import { IsInt, IsString } from 'class-validator';
import {
  command,
  CommandBus,
  defineAggregate,
  type DomainEvent,
  type EventStore,
  type SnapshotStore,
} from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What the snapshot contract suite needs from the store under test. */
export interface SnapshotStoreFixture {
  readonly store: SnapshotStore;
  /** The event store the snapshots go with, for the "snapshot load = full replay" test. */
  readonly eventStore: EventStore;
  readonly teardown?: () => Promise<void>;
}

type TallyEvent = DomainEvent<'Added', { n: number }>;
class Add {
  @IsString() id!: string;
  @IsInt() n!: number;
}
/** A tiny aggregate with a snapshot every 7 events. */
const Tally = defineAggregate<{ total: number; count: number }, TallyEvent>({
  type: 'Tally',
  initialState: () => ({ total: 0, count: 0 }),
  evolve: { Added: (state, { n }) => ({ total: state.total + n, count: state.count + 1 }) },
  snapshot: { every: 7 },
}).handles(Add, {
  aggregateId: (cmd) => cmd.id,
  decide: (cmd) => ({ type: 'Added', data: { n: cmd.n } }),
});

let counter = 0;
const freshStream = (): { aggregateType: string; aggregateId: string } => {
  counter += 1;
  return { aggregateType: 'Account', aggregateId: `snap-${counter}-${Date.now()}` };
};

/** The behaviour every `SnapshotStore` must have. */
export function describeSnapshotStoreContract(
  name: string,
  createFixture: () => Promise<SnapshotStoreFixture>,
): void {
  describe(`SnapshotStore contract: ${name}`, () => {
    let fixture: SnapshotStoreFixture;
    beforeAll(async () => {
      fixture = await createFixture();
    });
    afterAll(async () => {
      await fixture.teardown?.();
    });

    it('returns undefined for a stream without a snapshot', async () => {
      expect(await fixture.store.load(freshStream())).toBeUndefined();
    });

    it('returns the saved snapshot', async () => {
      const stream = freshStream();
      const snapshot = {
        stream,
        aggregateVersion: 10,
        stateVersion: 2,
        state: { balance: 1250, owner: { name: 'Ann' }, tags: ['a'] },
        takenAt: '2026-05-06T07:08:09.123Z',
      };
      await fixture.store.save(snapshot);
      expect(await fixture.store.load(stream)).toEqual(snapshot);
    });

    it('lets the command bus load the same state through a snapshot as by full replay, reading only the tail', async () => {
      const { eventStore } = fixture;
      const snapshots = fixture.store;
      const id = freshStream().aggregateId;
      const withSnapshots = new CommandBus({ eventStore, aggregates: [Tally], snapshots });
      for (let n = 1; n <= 23; n += 1) await withSnapshots.execute(command(Add, { id, n }));
      const snapshot = await snapshots.load({ aggregateType: 'Tally', aggregateId: id });
      expect(snapshot).toMatchObject({ aggregateVersion: 21, state: { total: 231, count: 21 } });

      const reads: (number | undefined)[] = [];
      const recording: EventStore = {
        readStream: (stream, options) => {
          reads.push(options?.fromVersion);
          return eventStore.readStream(stream, options);
        },
        appendToStream: (...args) => eventStore.appendToStream(...args),
        appendMany: (appends) => eventStore.appendMany(appends),
        findCommand: (commandId) => eventStore.findCommand(commandId),
      };
      const throughSnapshot = await new CommandBus({
        eventStore: recording,
        aggregates: [Tally],
        snapshots,
      }).load(Tally, id);
      const fullReplay = await new CommandBus({ eventStore: recording, aggregates: [Tally] }).load(
        Tally,
        id,
      );
      expect(throughSnapshot).toEqual(fullReplay);
      expect(fullReplay).toEqual({ state: { total: 276, count: 23 }, version: 23 });
      expect(reads).toEqual([22, 1]);
    });

    it('lets the command bus ignore a snapshot of another state version and replay instead', async () => {
      const { eventStore, store: snapshots } = fixture;
      const id = freshStream().aggregateId;
      const bus = new CommandBus({ eventStore, aggregates: [Tally], snapshots });
      for (let n = 1; n <= 6; n += 1) await bus.execute(command(Add, { id, n }));
      await snapshots.save({
        stream: { aggregateType: 'Tally', aggregateId: id },
        aggregateVersion: 6,
        stateVersion: 99,
        state: { total: -1, count: -1 },
        takenAt: new Date().toISOString(),
      });
      expect((await bus.load(Tally, id)).state).toEqual({ total: 21, count: 6 });
    });

    it('keeps the newest snapshot when an older one is saved later', async () => {
      const stream = freshStream();
      const at = (aggregateVersion: number) => ({
        stream,
        aggregateVersion,
        stateVersion: 1,
        state: { version: aggregateVersion },
        takenAt: '2026-05-06T07:08:09.123Z',
      });
      await fixture.store.save(at(20));
      await fixture.store.save(at(10));
      expect((await fixture.store.load(stream))?.aggregateVersion).toBe(20);
      await fixture.store.save(at(30));
      expect((await fixture.store.load(stream))?.state).toEqual({ version: 30 });
    });
  });
}
