import { describe, expect, it } from 'vitest';
import {
  COORDINATOR_KEEP_MS,
  createCoordinatorCache,
  transactionCoordinatorKept,
} from './kafkajs-transaction-coordinator.js';

/** A fake kafkajs cluster whose FindCoordinator lookups are counted. */
function setup() {
  let clock = 0;
  const cache = createCoordinatorCache(() => clock);
  const lookups: { groupId: string; coordinatorType?: number }[] = [];
  let connected = true;
  const broker = { isConnected: () => connected };
  const cluster = {
    findGroupCoordinator: cache.lookup((request) => {
      lookups.push(request);
      return Promise.resolve(broker);
    }),
  };
  let fail: Error | undefined;
  const send = (): Promise<string> =>
    fail === undefined ? Promise.resolve('ok') : Promise.reject(fail);
  const addPartitions = cache.request(send, false);
  const endTxn = cache.request(send, true);
  const txn = (groupId = 'capture-1') =>
    cluster.findGroupCoordinator({ groupId, coordinatorType: 1 });
  return {
    cache,
    cluster,
    lookups,
    broker,
    txn,
    addPartitions: (transactionalId = 'capture-1') =>
      addPartitions.call(broker, { transactionalId }),
    endTxn: (transactionalId = 'capture-1') => endTxn.call(broker, { transactionalId }),
    tick: (ms: number) => (clock += ms),
    disconnect: () => (connected = false),
    failWith: (error: Error | undefined) => (fail = error),
  };
}

describe('the kept kafkajs transaction coordinator', () => {
  it('is installed on kafkajs', () => {
    expect(transactionCoordinatorKept).toBe(true);
  });

  it('looks the coordinator up once per transaction, afresh after EndTxn', async () => {
    const fake = setup();
    for (let round = 0; round < 3; round += 1) {
      for (let partition = 0; partition < 16; partition += 1) {
        expect(await fake.txn()).toBe(fake.broker);
        await fake.addPartitions();
      }
      await fake.txn();
      await fake.endTxn();
    }
    expect(fake.lookups).toHaveLength(3);
    expect(fake.cache.size).toBe(0);
  });

  it('never keeps group coordinators', async () => {
    const fake = setup();
    await fake.cluster.findGroupCoordinator({ groupId: 'projection', coordinatorType: 0 });
    await fake.cluster.findGroupCoordinator({ groupId: 'projection' });
    await fake.cluster.findGroupCoordinator({ groupId: 'projection', coordinatorType: 0 });
    expect(fake.lookups).toHaveLength(3);
    expect(fake.cache.size).toBe(0);
  });

  it('forgets the coordinator when a request to it fails, and rethrows', async () => {
    const fake = setup();
    await fake.txn();
    fake.failWith(new Error('NOT_COORDINATOR'));
    await expect(fake.addPartitions()).rejects.toThrow('NOT_COORDINATOR');
    fake.failWith(undefined);
    await fake.txn();
    expect(fake.lookups).toHaveLength(2);
  });

  it('forgets a failed EndTxn, a disconnected broker and an old lookup', async () => {
    const fake = setup();
    await fake.txn();
    fake.failWith(new Error('PRODUCER_FENCED'));
    await expect(fake.endTxn()).rejects.toThrow('PRODUCER_FENCED');
    fake.failWith(undefined);
    await fake.txn();
    expect(fake.lookups).toHaveLength(2);

    fake.tick(COORDINATOR_KEEP_MS);
    await fake.txn();
    expect(fake.lookups).toHaveLength(3);

    fake.disconnect();
    await fake.txn();
    expect(fake.lookups).toHaveLength(4);
  });

  it('keeps one coordinator per transactional id and cluster', async () => {
    const fake = setup();
    await fake.txn('capture-1');
    await fake.txn('capture-2');
    await fake.txn('capture-1');
    await fake.txn('capture-2');
    expect(fake.lookups.map((lookup) => lookup.groupId)).toEqual(['capture-1', 'capture-2']);
    // Another cluster (another client) with the same transactional id looks up on its own.
    const other = { findGroupCoordinator: fake.cluster.findGroupCoordinator };
    await other.findGroupCoordinator({ groupId: 'capture-1', coordinatorType: 1 });
    expect(fake.lookups).toHaveLength(3);
  });
});
