// One file on purpose: every behaviour of the in-memory runtime (exactly once, ordering
// policies, poison policies, parking, rebuild) against one shared PGlite database.
import { encodeConsistencyToken, uuidV7, type EventEnvelope } from '@tributary/core';
import {
  ConsistencyNotApplicableError,
  ConsistencyTimeoutError,
  HandlerFailedError,
  OrderingViolationError,
  ProjectionRetiredError,
  replayParkedEvents,
  type AnyProjection,
} from '@tributary/projections';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryKafkaLog } from '../log/in-memory-kafka-log.js';
import { createPgliteKnex, type PgliteKnex } from './pglite.js';
import { recordOf } from './in-memory-relay.js';
import { InMemoryProjectionRuntime } from './in-memory-projection-runtime.js';
import { counterEnvelope } from '../fixtures/counter-events.js';
import { applicationsProjection, poisonSwitch } from '../fixtures/counter-projection.js';

let db: PgliteKnex;
let scenario = 0;

beforeAll(async () => {
  // One embedded database per file: PGlite takes seconds to start.
  db = await createPgliteKnex();
}, 120_000);
afterAll(async () => {
  await db.close();
});

/** A fresh log and fresh schemas, so tests share the database but not their data. */
function setup(partitions = 3, createTopic = true) {
  scenario += 1;
  const config = { schema: `rt_${scenario}`, readModelSchema: `rm_${scenario}` };
  const log = new InMemoryKafkaLog();
  if (createTopic) log.createTopic('events.Counter', { partitions });
  const producer = log.producer();
  const versions = new Map<string, number>();
  const envelopes: EventEnvelope[] = [];
  const append = async (
    counterId: string,
    payload: { by?: number; poison?: boolean },
    type = 'Incremented',
  ) => {
    const version = (versions.get(counterId) ?? 0) + 1;
    versions.set(counterId, version);
    const envelope: EventEnvelope = {
      eventId: uuidV7(),
      aggregateType: 'Counter',
      aggregateId: counterId,
      aggregateVersion: version,
      eventType: type,
      schemaVersion: 1,
      payload,
      metadata: {},
      occurredAt: new Date().toISOString(),
    };
    envelopes.push(envelope);
    await producer.connect();
    await producer.send({ topic: 'events.Counter', messages: [recordOf(envelope)] });
    return envelope;
  };
  const runtime = (
    projections: readonly AnyProjection[],
    consumersPerProjection = 1,
    seekOnAssignment = true,
  ) =>
    new InMemoryProjectionRuntime({
      log,
      knex: db.knex,
      projections,
      config,
      consumersPerProjection,
      seekOnAssignment,
    });
  const applications = async (version = 1) =>
    (await db.knex(`${config.readModelSchema}.applications_v${version}`).select('*')) as {
      event_id: string;
      counter_id: string;
      aggregate_version: number;
      applied: number;
      seq: string | number;
    }[];
  const totals = async () =>
    Object.fromEntries(
      (
        (await db.knex(`${config.readModelSchema}.totals`).select('*')) as {
          counter_id: string;
          total: number;
        }[]
      ).map((row) => [row.counter_id, row.total]),
    );
  const sendRaw = async (counterId: string, version: number, payload: { by: number }) => {
    const envelope = counterEnvelope(counterId, version, { payload });
    await producer.connect();
    await producer.send({ topic: 'events.Counter', messages: [recordOf(envelope)] });
  };
  return { log, config, append, sendRaw, runtime, applications, totals, envelopes, producer };
}

async function appendMany(
  append: ReturnType<typeof setup>['append'],
  counters: number,
  perCounter: number,
) {
  for (let round = 0; round < perCounter; round += 1) {
    for (let counter = 0; counter < counters; counter += 1) await append(`c${counter}`, { by: 1 });
  }
}

/** Every event applied exactly once and, per counter, in version order. */
function expectExactlyOnceInOrder(
  rows: Awaited<ReturnType<ReturnType<typeof setup>['applications']>>,
  expectedEvents: number,
) {
  expect(rows).toHaveLength(expectedEvents);
  expect(rows.filter((row) => row.applied !== 1)).toEqual([]);
  const byCounter = new Map<string, number[]>();
  for (const row of [...rows].sort((a, b) => Number(a.seq) - Number(b.seq))) {
    byCounter.set(row.counter_id, [
      ...(byCounter.get(row.counter_id) ?? []),
      row.aggregate_version,
    ]);
  }
  for (const versions of byCounter.values()) {
    expect(versions).toEqual(versions.map((_, index) => index + 1));
  }
}

describe('InMemoryProjectionRuntime', () => {
  it('applies every event once and stores next_offset = end offset per partition', async () => {
    const s = setup();
    await appendMany(s.append, 5, 4);
    const runtime = s.runtime([applicationsProjection()]);
    await runtime.start();
    const summary = await runtime.runUntilIdle();
    expect(summary.applied).toBe(20);
    expectExactlyOnceInOrder(await s.applications(), 20);
    expect(await s.totals()).toEqual({ c0: 4, c1: 4, c2: 4, c3: 4, c4: 4 });
    const checkpoints = await runtime.store.checkpoints('applications', 1);
    const ends = s.log.endOffsets('events.Counter');
    for (const checkpoint of checkpoints) {
      expect(checkpoint.nextOffset).toBe(
        ends.find((end) => end.partition === checkpoint.partition)?.offset,
      );
    }
    await runtime.stop();
  });

  it('a batch handler applies whole batches in one call, exactly once and in order, like the per-event handlers', async () => {
    const s = setup();
    await appendMany(s.append, 5, 4);
    await s.append('c0', {}, 'Reset');
    await s.append('c0', { by: 7 });
    const batchSizes: number[] = [];
    const runtime = s.runtime([applicationsProjection(1, { batchSizes })]);
    await runtime.start();
    runtime.crashAt('after-handlers');
    const summary = await runtime.runUntilIdle();
    expect(summary.crashes).toBe(1);
    expect(summary.applied).toBe(22);
    // Fewer calls than events: the batches went through the batch handler, not event by event.
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    expect(batchSizes.length).toBeLessThan(22);
    const rows = await s.applications();
    expect(rows).toHaveLength(21);
    expect(rows.filter((row) => row.applied !== 1)).toEqual([]);
    const versionsOf = (counter: string) =>
      rows
        .filter((row) => row.counter_id === counter)
        .sort((a, b) => Number(a.seq) - Number(b.seq))
        .map((row) => row.aggregate_version);
    // c0's version 5 is the Reset, which writes no application row.
    expect(versionsOf('c0')).toEqual([1, 2, 3, 4, 6]);
    for (const counter of ['c1', 'c2', 'c3', 'c4'])
      expect(versionsOf(counter)).toEqual([1, 2, 3, 4]);
    // The Reset ran between the increments before it and the one after it.
    expect(await s.totals()).toEqual({ c0: 7, c1: 4, c2: 4, c3: 4, c4: 4 });
    await runtime.stop();
  });

  it('a failing batch handler rolls back and the batch reruns per event, so the park policy parks only the poison aggregate', async () => {
    const s = setup(1);
    await s.append('c1', { by: 1 });
    await s.append('c1', { by: 10, poison: true });
    await s.append('c2', { by: 1 });
    await s.append('c1', { by: 100 });
    const batchSizes: number[] = [];
    const runtime = s.runtime([applicationsProjection(1, { poison: 'park', batchSizes })]);
    await runtime.start();
    poisonSwitch.on = true;
    await runtime.runUntilIdle();
    expect(batchSizes[0]).toBe(4);
    expect(await s.totals()).toEqual({ c1: 1, c2: 1 });
    const parked = await runtime.store.parkedEvents({ projection: 'applications' });
    expect(parked.map((row) => [row.aggregateId, row.aggregateVersion, row.reason])).toEqual([
      ['c1', 2, 'handler-failed'],
      ['c1', 3, 'aggregate-parked'],
    ]);
    expectExactlyOnceInOrder(await s.applications(), 2);
    await runtime.stop();
  });

  it('a crash after handlers but before COMMIT leaves no trace; the batch is applied once after restart', async () => {
    const s = setup();
    await appendMany(s.append, 4, 5);
    const runtime = s.runtime([applicationsProjection()]);
    await runtime.start();
    runtime.crashAt('after-handlers');
    const summary = await runtime.runUntilIdle();
    expect(summary.crashes).toBe(1);
    expectExactlyOnceInOrder(await s.applications(), 20);
    expect(await s.totals()).toEqual({ c0: 5, c1: 5, c2: 5, c3: 5 });
  });

  it('a crash after COMMIT but before the Kafka offset commit causes redelivery that is skipped', async () => {
    const s = setup();
    await appendMany(s.append, 4, 5);
    // Without the seek to the stored checkpoint, the new member starts from Kafka's offsets.
    const runtime = s.runtime([applicationsProjection()], 1, false);
    await runtime.start();
    runtime.crashAt('after-commit');
    const summary = await runtime.runUntilIdle();
    expect(summary.crashes).toBe(1);
    // The fresh member re-reads from Kafka's committed offset, behind the database checkpoint.
    expect(summary.skipped).toBeGreaterThan(0);
    expectExactlyOnceInOrder(await s.applications(), 20);
  });

  it('stays exactly-once through repeated crashes at both points and a rebalance to two members', async () => {
    const s = setup(4);
    await appendMany(s.append, 8, 10);
    const runtime = s.runtime([applicationsProjection()], 1);
    await runtime.start();
    runtime.crashAt('after-handlers', 2);
    runtime.crashAt('after-commit', 3);
    await runtime.runOnce();
    await runtime.addMember('applications');
    await appendMany(s.append, 8, 5);
    runtime.crashAt('after-handlers', 1);
    runtime.crashAt('after-commit', 2);
    const summary = await runtime.runUntilIdle();
    expect(summary.crashes).toBeGreaterThanOrEqual(2);
    expectExactlyOnceInOrder(await s.applications(), 120);
  });

  it('duplicate records of an applied version stop the runtime under the fail policy', async () => {
    const s = setup(1);
    await s.append('c1', { by: 1 });
    const second = await s.append('c1', { by: 1 });
    await s.producer.send({ topic: 'events.Counter', messages: [recordOf(second)] });
    const runtime = s.runtime([applicationsProjection(1, { ordering: 'fail' })]);
    await runtime.start();
    await expect(runtime.runUntilIdle()).rejects.toThrow(OrderingViolationError);
    // Nothing of the failing batch was applied.
    expect(await s.applications()).toEqual([]);
  });

  it('duplicate records are skipped under the warn policy, so effects happen once', async () => {
    const s = setup(1);
    const first = await s.append('c1', { by: 1 });
    const second = await s.append('c1', { by: 2 });
    await s.producer.send({
      topic: 'events.Counter',
      messages: [recordOf(first), recordOf(second)],
    });
    await s.append('c1', { by: 4 });
    const runtime = s.runtime([applicationsProjection(1, { ordering: 'warn' })]);
    const violations: number[] = [];
    runtime.instrumentation.on('projection.ordering.violation', (v) =>
      violations.push(v.actualVersion),
    );
    await runtime.start();
    await runtime.runUntilIdle();
    expect(violations).toEqual([1, 2]);
    expectExactlyOnceInOrder(await s.applications(), 3);
    expect(await s.totals()).toEqual({ c1: 7 });
  });

  it('a version gap parks the aggregate under the park policy; its later events wait, others flow; replay unparks', async () => {
    const s = setup(1);
    await s.sendRaw('c1', 1, { by: 1 });
    await s.sendRaw('c2', 1, { by: 1 });
    await s.sendRaw('c1', 3, { by: 10 }); // version 2 is missing: a gap
    await s.sendRaw('c1', 4, { by: 100 });
    await s.sendRaw('c2', 2, { by: 1 });
    const projection = applicationsProjection(1, { ordering: 'park' });
    const runtime = s.runtime([projection]);
    await runtime.start();
    await runtime.runUntilIdle();
    expect(await s.totals()).toEqual({ c1: 1, c2: 2 });
    const parked = await runtime.store.parkedEvents({ projection: 'applications' });
    expect(parked.map((row) => [row.aggregateId, row.aggregateVersion, row.reason])).toEqual([
      ['c1', 3, 'ordering'],
      ['c1', 4, 'aggregate-parked'],
    ]);
    const outcomes = await replayParkedEvents({ store: runtime.store, projection });
    expect(outcomes).toEqual([
      { aggregateType: 'Counter', aggregateId: 'c1', applied: 2, skipped: 0 },
    ]);
    expect(await runtime.store.parkedEvents({ projection: 'applications' })).toEqual([]);
    await s.sendRaw('c1', 5, { by: 1000 });
    await runtime.runUntilIdle();
    expect(await s.totals()).toEqual({ c1: 1111, c2: 2 });
  });

  it('a poison event stops the runtime under the stop policy, after retries, with the checkpoint before it', async () => {
    const s = setup(1);
    await s.append('c1', { by: 1 });
    const poison = await s.append('c1', { by: 1, poison: true });
    const runtime = s.runtime([applicationsProjection(1, { poison: 'stop' })]);
    const retries: number[] = [];
    runtime.instrumentation.on('projection.batch.retry', (r) => retries.push(r.attempt));
    await runtime.start();
    const failure = await runtime.runUntilIdle().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(HandlerFailedError);
    expect((failure as HandlerFailedError).eventId).toBe(poison.eventId);
    expect(retries).toEqual([1, 2, 3]);
    expect(await s.applications()).toEqual([]);
    const [checkpoint] = await runtime.store.checkpoints('applications', 1);
    expect(checkpoint?.nextOffset ?? 0).toBeLessThanOrEqual(1);
  });

  it('a poison event parks its aggregate under the park policy; the parking is replayable once fixed', async () => {
    const s = setup(1);
    await s.append('c1', { by: 1 });
    await s.append('c1', { by: 10, poison: true });
    await s.append('c2', { by: 1 });
    await s.append('c1', { by: 100 });
    const projection = applicationsProjection(1, { poison: 'park' });
    const runtime = s.runtime([projection]);
    await runtime.start();
    poisonSwitch.on = true;
    await runtime.runUntilIdle();
    expect(await s.totals()).toEqual({ c1: 1, c2: 1 });
    const parked = await runtime.store.parkedEvents({ projection: 'applications' });
    expect(parked.map((row) => [row.aggregateId, row.aggregateVersion, row.reason])).toEqual([
      ['c1', 2, 'handler-failed'],
      ['c1', 3, 'aggregate-parked'],
    ]);
    // Still failing: the replay changes nothing.
    const failed = await replayParkedEvents({ store: runtime.store, projection });
    expect(failed[0]?.error).toMatch(/poison event/);
    expect(await runtime.store.parkedEvents({ projection: 'applications' })).toHaveLength(2);
    poisonSwitch.on = false;
    try {
      const replayed = await replayParkedEvents({ store: runtime.store, projection });
      expect(replayed).toEqual([
        { aggregateType: 'Counter', aggregateId: 'c1', applied: 2, skipped: 0 },
      ]);
    } finally {
      poisonSwitch.on = true;
    }
    expect(await s.totals()).toEqual({ c1: 111, c2: 1 });
    expectExactlyOnceInOrder(await s.applications(), 4);
  });

  it('a poison event goes to the dead-letter topic with context headers and the partition carries on', async () => {
    const s = setup(1);
    await s.append('c1', { by: 1 });
    const poison = await s.append('c1', { by: 10, poison: true });
    await s.append('c1', { by: 100 });
    const runtime = s.runtime([applicationsProjection(1, { poison: 'dead-letter' })]);
    await runtime.start();
    await runtime.runUntilIdle();
    expect(await s.totals()).toEqual({ c1: 101 });
    const letters = s.log.fetch('tributary.dlq.applications', 0, 0).records;
    expect(letters).toHaveLength(1);
    expect(letters[0]?.headers).toMatchObject({
      'tributary.event_id': poison.eventId,
      'tributary.dlq.projection': 'applications',
      'tributary.dlq.source_topic': 'events.Counter',
      'tributary.dlq.source_partition': '0',
      'tributary.dlq.source_offset': '1',
      'tributary.dlq.attempts': '4',
    });
    expect(letters[0]?.headers['tributary.dlq.error']).toMatch(/poison event/);
  });

  it('rebuilds a new version into its own tables while the old one serves, proves them equal, swaps atomically and retires the old', async () => {
    const s = setup(3);
    await appendMany(s.append, 6, 5);
    await s.append('c0', {}, 'Reset');
    const v1 = s.runtime([applicationsProjection(1)]);
    await v1.start();
    await v1.runUntilIdle();
    const v2 = s.runtime([applicationsProjection(2)]);
    await v2.start();
    expect(
      (await v2.store.versions('applications')).map((row) => [row.version, row.status]),
    ).toEqual([
      [1, 'active'],
      [2, 'building'],
    ]);
    await v2.runUntilIdle();
    // Readers still see version 1 through the view.
    const totalsBefore = await s.totals();
    const differences = await compareTables(s.config.readModelSchema, 'totals');
    expect(differences).toBe(0);
    expect(
      await compareTables(
        s.config.readModelSchema,
        'applications',
        'event_id, counter_id, aggregate_version, applied',
      ),
    ).toBe(0);
    const retired = await v2.store.activate(applicationsProjection(2));
    expect(retired).toBe(1);
    expect(await s.totals()).toEqual(totalsBefore);
    expect(
      (await v2.store.versions('applications')).map((row) => [row.version, row.status]),
    ).toEqual([
      [1, 'retired'],
      [2, 'active'],
    ]);
    expect(await db.knex.schema.withSchema(s.config.readModelSchema).hasTable('totals_v1')).toBe(
      false,
    );
    // The old version's runtime finds itself retired on its next batch and stops.
    await s.append('c1', { by: 1 });
    await expect(v1.runUntilIdle()).rejects.toThrow(ProjectionRetiredError);
    await v2.runUntilIdle();
    expect((await s.totals())['c1']).toBe(6);
  });

  it('waitFor (read-your-writes) resolves once the version is applied, and times out with what is behind otherwise', async () => {
    const s = setup();
    await appendMany(s.append, 2, 3);
    const runtime = s.runtime([applicationsProjection()]);
    await runtime.start();
    const token = (version: number, aggregateType = 'Counter') =>
      encodeConsistencyToken([{ aggregateType, aggregateId: 'c1', version }]);
    await runtime.waitFor('applications', token(3));
    expect((await s.applications()).filter((row) => row.counter_id === 'c1')).toHaveLength(3);
    // Version 4 of c1 was never written: the wait ends with a typed error saying where it is.
    const timedOut = await runtime
      .waitFor('applications', token(4), { timeoutMs: 100 })
      .catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(ConsistencyTimeoutError);
    expect((timedOut as ConsistencyTimeoutError).behind).toEqual([
      { aggregateType: 'Counter', aggregateId: 'c1', version: 4, applied: 3, parked: false },
    ]);
    // Once it is written, the same wait resolves.
    await s.append('c1', { by: 1 });
    await runtime.waitFor('applications', token(4));
    await expect(runtime.waitFor('applications', token(1, 'Account'))).rejects.toThrow(
      ConsistencyNotApplicableError,
    );
    await expect(runtime.waitFor('nope', token(1))).rejects.toThrow(
      /does not run a projection "nope"/,
    );
    await runtime.stop();
  });

  it("missingTopics 'wait' (default): started before the topic exists, it reports the wait and projects the topic once it appears", async () => {
    const s = setup(3, false);
    const runtime = s.runtime([applicationsProjection()]);
    await runtime.start();
    const before = await runtime.runUntilIdle();
    expect(before).toMatchObject({ delivered: 0, waitingForTopics: ['events.Counter'] });
    // The capturer creates the topic with its first event of the type.
    s.log.createTopic('events.Counter', { partitions: 2 });
    await appendMany(s.append, 3, 2);
    const after = await runtime.runUntilIdle();
    expect(after).toMatchObject({ applied: 6, waitingForTopics: [] });
    expectExactlyOnceInOrder(await s.applications(), 6);
    await runtime.stop();
  });

  it("missingTopics 'create': creates the missing topic with topicPartitions partitions, as the Kafka runtime does", async () => {
    const s = setup(3, false);
    const runtime = new InMemoryProjectionRuntime({
      log: s.log,
      knex: db.knex,
      projections: [applicationsProjection()],
      config: { ...s.config, missingTopics: 'create', topicPartitions: 5 },
    });
    await runtime.start();
    expect(s.log.endOffsets('events.Counter')).toHaveLength(5);
    await appendMany(s.append, 4, 2);
    expect(await runtime.runUntilIdle()).toMatchObject({ applied: 8, waitingForTopics: [] });
    expectExactlyOnceInOrder(await s.applications(), 8);
    await runtime.stop();
  });
});

/** Rows in one version's table but not the other's (both directions). */
async function compareTables(schema: string, table: string, columns = '*'): Promise<number> {
  const result = await db.knex.raw<{ rows: { count: string | number }[] }>(
    `select count(*) as count from (
       (select ${columns} from ??.?? except all select ${columns} from ??.??)
       union all
       (select ${columns} from ??.?? except all select ${columns} from ??.??)) d`,
    [schema, `${table}_v1`, schema, `${table}_v2`, schema, `${table}_v2`, schema, `${table}_v1`],
  );
  return Number(result.rows[0]?.count);
}
