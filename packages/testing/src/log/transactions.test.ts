import { describe, expect, it } from 'vitest';
import { InvalidTransactionStateError, ProducerFencedError } from './errors.js';
import { InMemoryKafkaLog } from './in-memory-kafka-log.js';
import type { IsolationLevel } from './types.js';

function setup(): InMemoryKafkaLog {
  const log = new InMemoryKafkaLog({ now: () => 0 });
  log.createTopic('events.Account', { partitions: 2 });
  log.createTopic('checkpoints', { partitions: 1, cleanupPolicy: 'compact' });
  return log;
}

const values = (
  log: InMemoryKafkaLog,
  topic: string,
  partition: number,
  isolationLevel: IsolationLevel = 'read_committed',
): unknown[] =>
  log.fetch(topic, partition, 0, { isolationLevel }).records.map(({ value }) => value);

describe('transactions', () => {
  it('gives transactional records offsets at once but hides them from read_committed until commit', async () => {
    const log = setup();
    const tx = await log.producer({ transactionalId: 'capturer' }).transaction();

    const sent = await tx.send({
      topic: 'events.Account',
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 0 },
      ],
    });

    expect(sent.map(({ offset }) => offset)).toEqual([0, 1]);
    expect(log.endOffsets('events.Account')[0]).toEqual({ partition: 0, offset: 2 });
    expect(values(log, 'events.Account', 0)).toEqual([]);
    expect(values(log, 'events.Account', 0, 'read_uncommitted')).toEqual(['a', 'b']);
  });

  it('makes a committed transaction visible atomically across partitions and topics', async () => {
    const log = setup();
    const tx = await log.producer({ transactionalId: 'capturer' }).transaction();
    await tx.send({
      topic: 'events.Account',
      messages: [
        { value: 'p0', partition: 0 },
        { value: 'p1', partition: 1 },
      ],
    });
    await tx.send({ topic: 'checkpoints', messages: [{ key: 'capturer', value: '0/16' }] });

    expect(values(log, 'events.Account', 0)).toEqual([]);
    expect(values(log, 'events.Account', 1)).toEqual([]);
    expect(log.latestByKey('checkpoints').size).toBe(0);

    await tx.commit();

    expect(values(log, 'events.Account', 0)).toEqual(['p0']);
    expect(values(log, 'events.Account', 1)).toEqual(['p1']);
    expect(log.latestByKey('checkpoints').get('capturer')?.value).toBe('0/16');
    expect(tx.isActive()).toBe(false);
  });

  it('never shows aborted records to read_committed, but shows them to read_uncommitted', async () => {
    const log = setup();
    const producer = log.producer({ transactionalId: 'capturer' });
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'events.Account', messages: [{ value: 'lost', partition: 0 }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic: 'events.Account', messages: [{ value: 'kept', partition: 0 }] });
    await committed.commit();

    expect(values(log, 'events.Account', 0)).toEqual(['kept']);
    expect(values(log, 'events.Account', 0, 'read_uncommitted')).toEqual(['lost', 'kept']);
    expect(log.latestByKey('checkpoints')).toEqual(new Map());
  });

  it('writes a control marker that occupies an offset and is never delivered', async () => {
    const log = setup();
    const producer = log.producer({ transactionalId: 'capturer' });
    for (const value of ['first', 'second']) {
      const tx = await producer.transaction();
      await tx.send({ topic: 'events.Account', messages: [{ value, partition: 0 }] });
      await tx.commit();
    }

    // first@0, COMMIT@1, second@2, COMMIT@3
    const fetched = log.fetch('events.Account', 0, 0, { isolationLevel: 'read_uncommitted' });
    expect(fetched.records.map(({ offset }) => offset)).toEqual([0, 2]);
    expect(fetched.nextOffset).toBe(4);
    expect(log.endOffsets('events.Account')[0]?.offset).toBe(4);
    // Markers go only to partitions the transaction wrote to.
    expect(log.endOffsets('events.Account')[1]?.offset).toBe(0);
  });

  it('writes no marker for an empty transaction', async () => {
    const log = setup();
    const tx = await log.producer({ transactionalId: 'capturer' }).transaction();
    await tx.commit();
    expect(log.endOffsets('events.Account').map(({ offset }) => offset)).toEqual([0, 0]);
  });

  it('stops read_committed at the LSO of an open transaction even when later plain records are committed', async () => {
    const log = setup();
    const plain = log.producer();
    await plain.send({ topic: 'events.Account', messages: [{ value: 'before', partition: 0 }] });
    const tx = await log.producer({ transactionalId: 'capturer' }).transaction();
    await tx.send({ topic: 'events.Account', messages: [{ value: 'pending', partition: 0 }] });
    await plain.send({ topic: 'events.Account', messages: [{ value: 'after', partition: 0 }] });

    expect(log.watermarks('events.Account')[0]).toEqual({
      partition: 0,
      earliestOffset: 0,
      highWatermark: 3,
      lastStableOffset: 1,
    });
    expect(log.endOffsets('events.Account', { isolationLevel: 'read_committed' })[0]?.offset).toBe(
      1,
    );
    const blocked = log.fetch('events.Account', 0, 0);
    expect(blocked.records.map(({ value }) => value)).toEqual(['before']);
    expect(blocked.nextOffset).toBe(1);
    expect(values(log, 'events.Account', 0, 'read_uncommitted')).toEqual([
      'before',
      'pending',
      'after',
    ]);

    await tx.abort();

    expect(values(log, 'events.Account', 0)).toEqual(['before', 'after']);
    expect(log.watermarks('events.Account')[0]?.lastStableOffset).toBe(4);
  });

  it('refuses a second open transaction and any use of a completed one', async () => {
    const log = setup();
    const producer = log.producer({ transactionalId: 'capturer' });
    const tx = await producer.transaction();
    await expect(producer.transaction()).rejects.toBeInstanceOf(InvalidTransactionStateError);

    await tx.commit();

    await expect(tx.commit()).rejects.toBeInstanceOf(InvalidTransactionStateError);
    await expect(tx.abort()).rejects.toBeInstanceOf(InvalidTransactionStateError);
    await expect(
      tx.send({ topic: 'events.Account', messages: [{ value: 'late' }] }),
    ).rejects.toBeInstanceOf(InvalidTransactionStateError);
    await expect(producer.transaction()).resolves.toBeDefined();
  });

  it('refuses a transaction on a producer without transactionalId', async () => {
    const log = setup();
    await expect(log.producer().transaction()).rejects.toMatchObject({ code: 'INVALID_TXN_STATE' });
  });

  it('keeps a transaction open across a failed send, so the caller can still abort it', async () => {
    const log = setup();
    const tx = await log.producer({ transactionalId: 'capturer' }).transaction();
    await tx.send({ topic: 'events.Account', messages: [{ value: 'a', partition: 0 }] });
    await expect(tx.send({ topic: 'missing', messages: [{ value: 'b' }] })).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    expect(tx.isActive()).toBe(true);
    await tx.abort();
    expect(values(log, 'events.Account', 0)).toEqual([]);
    expect(log.watermarks('events.Account')[0]?.lastStableOffset).toBe(2);
  });
});

describe('fencing', () => {
  it('fences a zombie producer when a new instance with the same transactionalId connects', async () => {
    const log = setup();
    const zombie = log.producer({ transactionalId: 'capturer' });
    const zombieTx = await zombie.transaction();
    await zombieTx.send({ topic: 'events.Account', messages: [{ value: 'zombie', partition: 0 }] });

    const successor = log.producer({ transactionalId: 'capturer' });
    await successor.connect();

    await expect(
      zombieTx.send({ topic: 'events.Account', messages: [{ value: 'more', partition: 0 }] }),
    ).rejects.toBeInstanceOf(ProducerFencedError);
    await expect(zombieTx.commit()).rejects.toMatchObject({
      code: 'PRODUCER_FENCED',
      retriable: false,
    });
    await expect(zombie.transaction()).rejects.toBeInstanceOf(ProducerFencedError);
    // Nothing the zombie wrote becomes visible, and nothing more was appended after fencing.
    expect(values(log, 'events.Account', 0)).toEqual([]);
    expect(values(log, 'events.Account', 0, 'read_uncommitted')).toEqual(['zombie']);
  });

  it('aborts the zombie open transaction on the new initTransactions so the LSO moves on', async () => {
    const log = setup();
    const zombieTx = await log.producer({ transactionalId: 'capturer' }).transaction();
    await zombieTx.send({ topic: 'events.Account', messages: [{ value: 'zombie', partition: 0 }] });
    expect(log.watermarks('events.Account')[0]?.lastStableOffset).toBe(0);

    const successor = log.producer({ transactionalId: 'capturer' });
    const tx = await successor.transaction();
    // zombie@0, ABORT@1, fresh@2
    expect(log.watermarks('events.Account')[0]).toMatchObject({
      highWatermark: 2,
      lastStableOffset: 2,
    });
    await tx.send({ topic: 'events.Account', messages: [{ value: 'fresh', partition: 0 }] });
    await tx.commit();

    expect(values(log, 'events.Account', 0)).toEqual(['fresh']);
  });

  it('does not fence producers with a different transactionalId', async () => {
    const log = setup();
    const a = await log.producer({ transactionalId: 'capturer-a' }).transaction();
    await log.producer({ transactionalId: 'capturer-b' }).connect();
    await a.send({ topic: 'events.Account', messages: [{ value: 'a', partition: 0 }] });
    await a.commit();
    expect(values(log, 'events.Account', 0)).toEqual(['a']);
  });

  it('leaves a disconnected producer transaction open until a successor aborts it', async () => {
    const log = setup();
    const producer = log.producer({ transactionalId: 'capturer' });
    const tx = await producer.transaction();
    await tx.send({ topic: 'events.Account', messages: [{ value: 'x', partition: 1 }] });
    await producer.disconnect();
    expect(log.watermarks('events.Account')[1]?.lastStableOffset).toBe(0);

    await log.producer({ transactionalId: 'capturer' }).connect();
    expect(log.watermarks('events.Account')[1]?.lastStableOffset).toBe(2);
    expect(values(log, 'events.Account', 1)).toEqual([]);
  });
});
