import { IsInt, IsString } from 'class-validator';
import { command, CommandBus, defineAggregate, type DomainEvent } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { describeSnapshotStoreContract } from '../contracts/index.js';
import { InMemoryEventStore } from './in-memory-event-store.js';
import { InMemorySnapshotStore } from './in-memory-snapshot-store.js';

describeSnapshotStoreContract('InMemorySnapshotStore', () =>
  Promise.resolve({ store: new InMemorySnapshotStore(), eventStore: new InMemoryEventStore() }),
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
