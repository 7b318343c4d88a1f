import type { SnapshotStore } from '@tributary/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** What the snapshot contract suite needs from the store under test. */
export interface SnapshotStoreFixture {
  readonly store: SnapshotStore;
  readonly teardown?: () => Promise<void>;
}

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
