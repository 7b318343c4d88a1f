import { envelopeFromHeaders, isTributaryError } from '@tributary/core';
import {
  ProjectionApplier,
  type DeadLetterPublisher,
  type ProjectedEvent,
  type ProjectionStore,
  type SourceRecord,
} from '@tributary/projections';
import { expect, it } from 'vitest';
import {
  contractConfig,
  counterRecord,
  type ContractProjection,
  type ContractProjectionOverrides,
} from './projection-store-support.js';

const partition = { topic: 'events.Counter', partition: 0 };
const counter = (aggregateId: string) => ({ aggregateType: 'Counter', aggregateId });
const text = (value: SourceRecord['value']): string | null =>
  value === null ? null : typeof value === 'string' ? value : new TextDecoder().decode(value);

/**
 * The bookkeeping half of the projection store contract: aggregate versions, parked
 * events, dead letters. Registered inside `describeProjectionStoreContract`.
 */
export function describeProjectionStoreBookkeeping<Context>(
  store: () => ProjectionStore<Context>,
  prepared: (
    handle?: (event: ProjectedEvent) => Promise<void> | void,
    overrides?: ContractProjectionOverrides,
  ) => Promise<ContractProjection<Context>>,
): void {
  it('tracks the last applied version and the parked flag of each aggregate it saved', async () => {
    const projection = await prepared();
    await store().transaction(projection, async (tx) => {
      await tx.lockCheckpoint(partition);
      expect(await tx.lockAggregates([counter('a'), counter('b')])).toEqual([]);
      await tx.advance(partition, 3, [
        { ...counter('a'), lastVersion: 2, parked: false },
        { ...counter('b'), lastVersion: 1, parked: false },
      ]);
    });
    await store().transaction(projection, async (tx) => {
      await tx.lockCheckpoint(partition);
      const found = await tx.lockAggregates([counter('b'), counter('c'), counter('a')]);
      expect(found).toHaveLength(2);
      expect(found).toEqual(
        expect.arrayContaining([
          { ...counter('a'), lastVersion: 2, parked: false },
          { ...counter('b'), lastVersion: 1, parked: false },
        ]),
      );
      await tx.advance(partition, 4, [{ ...counter('a'), lastVersion: 3, parked: true }]);
    });
    await store().transaction(projection, async (tx) => {
      expect(await tx.lockAggregates([counter('a')])).toEqual([
        { ...counter('a'), lastVersion: 3, parked: true },
      ]);
    });
  });

  it('reports a version gap against the versions an earlier batch applied', async () => {
    const projection = await prepared();
    const applier = new ProjectionApplier({ store: store(), projection, config: contractConfig });
    await applier.applyBatch([counterRecord('g', 1, 0), counterRecord('g', 2, 1)]);
    await expect(applier.applyBatch([counterRecord('g', 4, 2)])).rejects.toSatisfy(
      (error: unknown) => isTributaryError(error) && error.code === 'PROJECTION_ORDERING_VIOLATION',
    );
    expect(await store().checkpoints(projection.name)).toMatchObject([{ nextOffset: 2 }]);
  });

  it('parks events once each and gives them back in log order until the aggregate is unparked', async () => {
    const projection = await prepared();
    const records = [
      counterRecord('p', 3, 9, { payload: { by: 9 } }),
      counterRecord('p', 1, 2, { payload: { by: 2 } }),
      counterRecord('p', 2, 5, { payload: { by: 5 } }),
      counterRecord('other', 1, 6),
    ];
    const park = (record: SourceRecord) => ({
      record,
      envelope: envelopeFromHeaders(record.headers),
      reason: 'ordering' as const,
      error: 'gap',
    });
    await store().transaction(projection, async (tx) => {
      await tx.park(records.map(park));
      // A batch replayed after a crash parks the same records again: they stay once.
      await tx.park([park(records[0]!)]);
    });
    const listed = await store().parkedEvents({
      projection: projection.name,
      version: projection.version,
    });
    expect(listed.map((row) => [row.aggregateId, row.offset, row.reason, row.error])).toEqual([
      ['other', 6, 'ordering', 'gap'],
      ['p', 2, 'ordering', 'gap'],
      ['p', 5, 'ordering', 'gap'],
      ['p', 9, 'ordering', 'gap'],
    ]);
    await store().transaction(projection, async (tx) => {
      const parked = await tx.lockParked(counter('p'));
      expect(parked.map((record) => record.offset)).toEqual([2, 5, 9]);
      expect(parked.map((record) => text(record.value))).toEqual([
        '{"by":2}',
        '{"by":5}',
        '{"by":9}',
      ]);
      expect(parked.map((record) => envelopeFromHeaders(record.headers).aggregateVersion)).toEqual([
        1, 2, 3,
      ]);
      expect(parked[0]).toMatchObject({ topic: 'events.Counter', partition: 0, key: 'p' });
      await tx.unpark(counter('p'), 3);
    });
    await store().transaction(projection, async (tx) => {
      expect(await tx.lockParked(counter('p'))).toEqual([]);
      expect(await tx.lockAggregates([counter('p')])).toEqual([
        { ...counter('p'), lastVersion: 3, parked: false },
      ]);
      expect(await tx.lockParked(counter('other'))).toHaveLength(1);
    });
  });

  it('parks an aggregate whose event keeps failing, holds its later events behind it and replays them in order', async () => {
    let failing = true;
    const applied: string[] = [];
    const projection = await prepared(
      (event) => {
        if (failing && event.aggregateId === 'x' && event.aggregateVersion === 2)
          throw new Error('poison');
        applied.push(`${event.aggregateId}@${event.aggregateVersion}`);
      },
      { poison: 'park' },
    );
    const applier = new ProjectionApplier({
      store: store(),
      projection,
      config: contractConfig,
      sleep: () => Promise.resolve(),
    });
    const outcome = await applier.applyBatch([
      counterRecord('x', 1, 0),
      counterRecord('x', 2, 1),
      counterRecord('y', 1, 2),
      counterRecord('x', 3, 3),
      counterRecord('y', 2, 4),
    ]);
    expect(outcome).toMatchObject({ applied: 3, parked: 2, nextOffset: 5 });
    // Handlers also ran in the attempts that were rolled back, hence a set.
    expect(new Set(applied)).toEqual(new Set(['x@1', 'y@1', 'y@2']));
    const parked = await store().parkedEvents({ projection: projection.name });
    expect(parked.map((row) => [row.aggregateVersion, row.reason])).toEqual([
      [2, 'handler-failed'],
      [3, 'aggregate-parked'],
    ]);
    // Still parked: the next event of x waits too.
    expect(await applier.applyBatch([counterRecord('x', 4, 5)])).toMatchObject({ parked: 1 });

    failing = false;
    applied.length = 0;
    expect(await applier.replayParked('Counter', 'x')).toEqual({
      aggregateType: 'Counter',
      aggregateId: 'x',
      applied: 3,
      skipped: 0,
    });
    expect(applied).toEqual(['x@2', 'x@3', 'x@4']);
    expect(await store().parkedEvents({ projection: projection.name })).toEqual([]);
    expect(await applier.applyBatch([counterRecord('x', 5, 6)])).toMatchObject({ applied: 1 });
  });

  it('dead-letters a poison event once, counts its version as consumed and moves the checkpoint past it', async () => {
    const applied: number[] = [];
    const projection = await prepared(
      (event) => {
        if (event.aggregateVersion === 2) throw new Error('poison');
        applied.push(event.aggregateVersion);
      },
      { poison: 'dead-letter' },
    );
    const deadLetters: number[] = [];
    const deadLetter: DeadLetterPublisher = (record, context) => {
      expect(context.projection).toMatchObject({ name: projection.name, version: 1 });
      deadLetters.push(record.offset);
      return Promise.resolve();
    };
    const applier = new ProjectionApplier({
      store: store(),
      projection,
      config: contractConfig,
      deadLetter,
      sleep: () => Promise.resolve(),
    });
    const batch = [counterRecord('d', 1, 0), counterRecord('d', 2, 1), counterRecord('d', 3, 2)];
    expect(await applier.applyBatch(batch)).toMatchObject({
      applied: 2,
      deadLettered: 1,
      nextOffset: 3,
    });
    expect(await applier.applyBatch(batch)).toMatchObject({ applied: 0, skipped: 3 });
    // The next version is no gap: the dead-lettered one counts as consumed.
    expect(await applier.applyBatch([counterRecord('d', 4, 3)])).toMatchObject({ applied: 1 });
    expect(deadLetters).toEqual([1]);
    // Handlers also ran in the attempts that were rolled back, hence a set.
    expect(new Set(applied)).toEqual(new Set([1, 3, 4]));
    await store().transaction(projection, async (tx) => {
      expect(await tx.lockAggregates([counter('d')])).toEqual([
        { ...counter('d'), lastVersion: 4, parked: false },
      ]);
    });
  });
}
