import { IsInt, IsString } from 'class-validator';
import { command, CommandBus, defineAggregate, type DomainEvent } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { describeSnapshotStoreContract } from '../contracts/index.js';
import { InMemoryEventStore } from './in-memory-event-store.js';
import { InMemorySnapshotStore } from './in-memory-snapshot-store.js';

describeSnapshotStoreContract('InMemorySnapshotStore', () =>
  Promise.resolve({ store: new InMemorySnapshotStore() }),
);

type TallyEvent = DomainEvent<'Added', { n: number }>;
class Add {
  @IsString() id!: string;
  @IsInt() n!: number;
}
const Tally = defineAggregate<{ total: number; count: number }, TallyEvent>({
  type: 'Tally',
  initialState: () => ({ total: 0, count: 0 }),
  evolve: { Added: (state, { n }) => ({ total: state.total + n, count: state.count + 1 }) },
  snapshot: { every: 7 },
}).handles(Add, {
  aggregateId: (cmd) => cmd.id,
  decide: (cmd) => ({ type: 'Added', data: { n: cmd.n } }),
});

describe('command bus with snapshots', () => {
  it('loads the same state through a snapshot as by full replay, reading only the tail', async () => {
    const eventStore = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const withSnapshots = new CommandBus({ eventStore, aggregates: [Tally], snapshots });
    for (let n = 1; n <= 23; n += 1) await withSnapshots.execute(command(Add, { id: 't-1', n }));
    const snapshot = await snapshots.load({ aggregateType: 'Tally', aggregateId: 't-1' });
    expect(snapshot?.aggregateVersion).toBe(21);

    const reads: (number | undefined)[] = [];
    const original = eventStore.readStream.bind(eventStore);
    eventStore.readStream = (stream, options) => {
      reads.push(options?.fromVersion);
      return original(stream, options);
    };
    const throughSnapshot = await withSnapshots.load(Tally, 't-1');
    const fullReplay = await new CommandBus({ eventStore, aggregates: [Tally] }).load(Tally, 't-1');
    expect(throughSnapshot).toEqual(fullReplay);
    expect(fullReplay).toEqual({ state: { total: 276, count: 23 }, version: 23 });
    expect(reads).toEqual([22, 1]);
  });

  it('ignores a snapshot of another state version and replays instead', async () => {
    const eventStore = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const bus = new CommandBus({ eventStore, aggregates: [Tally], snapshots });
    for (let n = 1; n <= 7; n += 1) await bus.execute(command(Add, { id: 't-2', n }));
    await snapshots.save({
      stream: { aggregateType: 'Tally', aggregateId: 't-2' },
      aggregateVersion: 8,
      stateVersion: 99,
      state: { total: -1, count: -1 },
      takenAt: new Date().toISOString(),
    });
    expect((await bus.load(Tally, 't-2')).state).toEqual({ total: 28, count: 7 });
  });
});
