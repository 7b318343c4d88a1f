import { envelopeFromHeaders, isTributaryError } from '@tributary/core';
import {
  ProjectionApplier,
  type ProjectedEvent,
  type ProjectionStore,
} from '@tributary/projections';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProjectionStoreBookkeeping } from './projection-store-bookkeeping.contract.js';
import {
  contractConfig,
  contractProjection,
  counterRecord,
  type ContractProjection,
  type ContractProjectionOverrides,
} from './projection-store-support.js';

/** What the projection store contract suite needs from the store under test. */
export interface ProjectionStoreFixture<Context = unknown> {
  /** A store with its schema ensured, shared by the suite (every test uses its own projection). */
  readonly store: ProjectionStore<Context>;
  readonly teardown?: () => Promise<void>;
}

const isRetired = (error: unknown): boolean =>
  isTributaryError(error) && error.code === 'PROJECTION_RETIRED';

/**
 * The behaviour every `ProjectionStore` must have for the applier to be exactly-once:
 * checkpoint locking and advance, aggregate versions, parked events, dead-letter
 * bookkeeping, all inside one unit of work that commits or leaves nothing.
 */
export function describeProjectionStoreContract<Context>(
  name: string,
  createFixture: () => Promise<ProjectionStoreFixture<Context>>,
): void {
  describe(`ProjectionStore contract: ${name}`, () => {
    let fixture: ProjectionStoreFixture<Context>;
    beforeAll(async () => {
      fixture = await createFixture();
    }, 120_000);
    afterAll(async () => {
      await fixture.teardown?.();
    });
    const store = (): ProjectionStore<Context> => fixture.store;
    const prepared = async (
      handle: (event: ProjectedEvent) => Promise<void> | void = () => undefined,
      overrides: ContractProjectionOverrides = {},
    ): Promise<ContractProjection<Context>> => {
      const projection = contractProjection<Context>(handle, overrides);
      await store().prepare(projection);
      return projection;
    };
    const partition = { topic: 'events.Counter', partition: 0 };

    it('starts a partition never applied at offset 0 and keeps the offset it advanced to', async () => {
      const projection = await prepared();
      await store().transaction(projection, async (tx) => {
        expect(await tx.lockCheckpoint(partition)).toBe(0);
        await tx.advance(partition, 5, []);
      });
      expect(await store().transaction(projection, (tx) => tx.lockCheckpoint(partition))).toBe(5);
      expect(await store().checkpoints(projection.name, projection.version)).toMatchObject([
        { projection: projection.name, version: 1, ...partition, nextOffset: 5 },
      ]);
    });

    it('leaves nothing behind when the unit of work throws', async () => {
      const projection = await prepared();
      const failure = new Error('rolled back');
      await expect(
        store().transaction(projection, async (tx) => {
          await tx.lockCheckpoint(partition);
          await tx.advance(partition, 7, [
            { aggregateType: 'Counter', aggregateId: 'c1', lastVersion: 3, parked: true },
          ]);
          const record = counterRecord('c1', 4, 6);
          await tx.park([
            {
              record,
              envelope: envelopeFromHeaders(record.headers),
              reason: 'ordering',
              error: null,
            },
          ]);
          throw failure;
        }),
      ).rejects.toBe(failure);
      await store().transaction(projection, async (tx) => {
        expect(await tx.lockCheckpoint(partition)).toBe(0);
        expect(await tx.lockAggregates([{ aggregateType: 'Counter', aggregateId: 'c1' }])).toEqual(
          [],
        );
      });
      expect(await store().parkedEvents({ projection: projection.name })).toEqual([]);
    });

    it('refuses the checkpoint of a version that is not registered or was retired', async () => {
      const unregistered = contractProjection<Context>(() => undefined);
      await expect(
        store().transaction(unregistered, (tx) => tx.lockCheckpoint(partition)),
      ).rejects.toSatisfy(isRetired);
      const v1 = await prepared();
      await store().transaction(v1, (tx) => tx.lockCheckpoint(partition));
      const v2 = await prepared(() => undefined, { name: v1.name, version: 2 });
      expect(await store().activate(v2)).toBe(1);
      await expect(store().transaction(v1, (tx) => tx.lockCheckpoint(partition))).rejects.toSatisfy(
        isRetired,
      );
      expect(await store().checkpoints(v1.name, 1)).toEqual([]);
    });

    it('serializes two units of work on one checkpoint: the second waits for the first to commit, then sees its offset', async () => {
      const projection = await prepared();
      // The row exists already: its lock, not the creation of the row, must serialize.
      await store().transaction(projection, async (tx) => {
        await tx.lockCheckpoint(partition);
        await tx.advance(partition, 3, []);
      });
      const events: string[] = [];
      let locked!: () => void;
      const firstLocked = new Promise<void>((resolve) => {
        locked = resolve;
      });
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const first = store().transaction(projection, async (tx) => {
        await tx.lockCheckpoint(partition);
        locked();
        await released;
        await tx.advance(partition, 10, []);
        events.push('first advanced');
      });
      await firstLocked;
      const second = store().transaction(projection, async (tx) => {
        const next = await tx.lockCheckpoint(partition);
        events.push(`second locked at ${next}`);
        return next;
      });
      // Long enough for an unserialized second lock to have returned the old offset.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(events).toEqual([]);
      release();
      await first;
      expect(await second).toBe(10);
      expect(events).toEqual(['first advanced', 'second locked at 10']);
    });

    it('lets a zombie re-running a batch its successor applied apply nothing twice', async () => {
      const applications = new Map<string, number>();
      let racing = false;
      const projection = await prepared(async (event) => {
        applications.set(event.eventId, (applications.get(event.eventId) ?? 0) + 1);
        if (racing) {
          // Holds the first applier inside its unit of work while the other one starts.
          racing = false;
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      });
      const records = Array.from({ length: 24 }, (_, index) =>
        counterRecord(`c${index % 4}`, Math.floor(index / 4) + 1, index),
      );
      const applier = (): ProjectionApplier<Context> =>
        new ProjectionApplier({ store: store(), projection, config: contractConfig });
      // The first batch creates the checkpoint row; the race is on the batch after it.
      await applier().applyBatch(records.slice(0, 4));
      racing = true;
      const outcomes = await Promise.all([
        applier().applyBatch(records.slice(4)),
        applier().applyBatch(records.slice(4)),
      ]);
      expect(outcomes.map((outcome) => outcome.applied).sort()).toEqual([0, 20]);
      expect(outcomes.map((outcome) => outcome.skipped).sort()).toEqual([0, 20]);
      expect(outcomes.map((outcome) => outcome.nextOffset)).toEqual([24, 24]);
      expect(applications.size).toBe(24);
      expect([...applications.values()].every((count) => count === 1)).toBe(true);
    });

    it('skips the records below the stored next offset and applies the rest', async () => {
      const applied: number[] = [];
      const projection = await prepared((event) => {
        applied.push(event.position.offset);
      });
      const applier = new ProjectionApplier({ store: store(), projection, config: contractConfig });
      const records = [1, 2, 3, 4, 5].map((version, offset) => counterRecord('c', version, offset));
      await applier.applyBatch(records.slice(0, 3));
      const outcome = await applier.applyBatch(records);
      expect(outcome).toMatchObject({ applied: 2, skipped: 3, nextOffset: 5 });
      expect(applied).toEqual([0, 1, 2, 3, 4]);
    });

    describeProjectionStoreBookkeeping(store, prepared);
  });
}
