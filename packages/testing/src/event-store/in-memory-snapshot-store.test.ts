import { describeSnapshotStoreContract } from '../contracts/index.js';
import { InMemoryEventStore } from './in-memory-event-store.js';
import { InMemorySnapshotStore } from './in-memory-snapshot-store.js';

describeSnapshotStoreContract('InMemorySnapshotStore', () =>
  Promise.resolve({ store: new InMemorySnapshotStore(), eventStore: new InMemoryEventStore() }),
);
