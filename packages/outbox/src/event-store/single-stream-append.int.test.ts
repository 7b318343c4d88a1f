/**
 * The single-stream fast path of PostgresEventStore on real PostgreSQL: every way its one
 * short statement can fail to insert (a lost race on the version, a stale expectation, a
 * stored event id, a recorded command id) ends exactly as the full statement decided it
 * before, and what it inserts (several events, awkward JSON) reads back unchanged.
 */
import { ConcurrencyError, uuidV7 } from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createKnex, migrateOutbox } from '../migrations.js';
import { PostgresEventStore } from './postgres-event-store.js';

const env = await useIntegrationEnv({ label: 'fastappend' });
await migrateOutbox({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 8 });
const store = new PostgresEventStore({ connection: pool });
afterAll(async () => {
  await pool.end();
});

const stream = (name: string) => ({ aggregateType: 'Order', aggregateId: `${name}-${uuidV7()}` });

async function rowsOf(aggregateId: string): Promise<{ events: number; commands: number }> {
  const { rows } = await pool.query<{ events: number; commands: number }>(
    `select (select count(*)::int from tributary.events where aggregate_id = $1) as events,
            (select count(*)::int from tributary.commands where aggregate_id = $1) as commands`,
    [aggregateId],
  );
  return rows[0] ?? { events: -1, commands: -1 };
}

/** A store over `pool` that counts its statements (each one a round trip). */
function countingStore(): { store: PostgresEventStore; statements: () => number } {
  let statements = 0;
  const counting = Object.create(pool, {
    query: {
      value: (...args: Parameters<pg.Pool['query']>) => {
        statements += 1;
        return (pool.query as (...a: unknown[]) => unknown)(...args);
      },
    },
  }) as pg.Pool;
  return { store: new PostgresEventStore({ connection: counting }), statements: () => statements };
}

describe('single-stream appends (one short statement)', () => {
  it('lets exactly one of two writers racing on the same expected version win; the other gets a ConcurrencyError with the actual version', async () => {
    const target = stream('race');
    // Two stores on separate pools, so the two statements really run at the same time.
    const otherPool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });
    const other = new PostgresEventStore({ connection: otherPool });
    try {
      for (let version = 0; version < 20; version += 1) {
        const outcomes = await Promise.allSettled(
          [store, other].map((writer, n) =>
            writer.appendToStream(target, [{ type: 'LineAdded', data: { version, n } }], {
              expectedVersion: version,
            }),
          ),
        );
        const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
        const lost = outcomes.flatMap((outcome) =>
          outcome.status === 'rejected' ? [outcome.reason as unknown] : [],
        );
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect(lost[0]).toBeInstanceOf(ConcurrencyError);
        expect(lost[0]).toMatchObject({
          code: 'CONCURRENCY_CONFLICT',
          expectedVersion: version,
          actualVersion: version + 1,
        });
      }
    } finally {
      await otherPool.end();
    }
    const { events, currentVersion } = await store.readStream(target);
    expect(currentVersion).toBe(20);
    expect(events.map((event) => event.aggregateVersion)).toEqual(
      Array.from({ length: 20 }, (_, n) => n + 1),
    );
  });

  it('appends in one round trip; a conflict takes a second, where the full statement says why the insert wrote nothing', async () => {
    const target = stream('conflict');
    const { store: counted, statements } = countingStore();
    await counted.appendToStream(target, [{ type: 'OrderPlaced', data: {} }], {
      expectedVersion: 0,
    });
    expect(statements()).toBe(1);
    const error: unknown = await counted
      .appendToStream(target, [{ type: 'LineAdded', data: {} }], { expectedVersion: 3 })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      code: 'CONCURRENCY_CONFLICT',
      expectedVersion: 3,
      actualVersion: 1,
    });
    expect(statements()).toBe(3);
    expect((await rowsOf(target.aggregateId)).events).toBe(1);
  });

  it('fails a stale exact expectation the same way for one and several events, with and without a command id, writing nothing', async () => {
    const target = stream('stale-shapes');
    await store.appendToStream(
      target,
      [
        { type: 'OrderPlaced', data: {} },
        { type: 'LineAdded', data: {} },
      ],
      { expectedVersion: 'no-stream' },
    );
    for (const count of [1, 3]) {
      for (const commandId of [undefined, `cmd-${uuidV7()}`]) {
        for (const expectedVersion of ['no-stream', 1, 5] as const) {
          const { store: counted, statements } = countingStore();
          const error: unknown = await counted
            .appendToStream(
              target,
              Array.from({ length: count }, (_, n) => ({ type: 'LineAdded', data: { n } })),
              commandId === undefined ? { expectedVersion } : { expectedVersion, commandId },
            )
            .catch((caught: unknown) => caught);
          expect(error).toBeInstanceOf(ConcurrencyError);
          expect(error).toMatchObject({ expectedVersion, actualVersion: 2 });
          // The fast INSERT wrote nothing, the full statement classified: nothing more.
          expect(statements()).toBe(2);
          if (commandId !== undefined) expect(await store.findCommand(commandId)).toBeUndefined();
        }
      }
    }
    expect(await rowsOf(target.aggregateId)).toEqual({ events: 2, commands: 0 });
  });

  it('appends with an exact expectation without a result row, and reports the versions the database assigned', async () => {
    const target = stream('exact');
    const rowCounts: number[] = [];
    const watching = Object.create(pool, {
      query: {
        value: async (...args: Parameters<pg.Pool['query']>) => {
          const result = (await (pool.query as (...a: unknown[]) => unknown)(
            ...args,
          )) as pg.QueryResult;
          rowCounts.push(result.rows.length);
          return result;
        },
      },
    }) as pg.Pool;
    const exact = new PostgresEventStore({ connection: watching });
    const results = [
      await exact.appendToStream(target, [{ type: 'OrderPlaced', data: {} }], {
        expectedVersion: 'no-stream',
      }),
      await exact.appendToStream(
        target,
        [
          { type: 'LineAdded', data: { n: 1 } },
          { type: 'LineAdded', data: { n: 2 } },
        ],
        { expectedVersion: 1 },
      ),
      await exact.appendToStream(target, [{ type: 'LineAdded', data: { n: 3 } }], {
        expectedVersion: 3,
        commandId: `cmd-${uuidV7()}`,
      }),
      await exact.appendToStream(
        target,
        [
          { type: 'LineAdded', data: { n: 4 } },
          { type: 'LineAdded', data: { n: 5 } },
        ],
        { expectedVersion: 4, commandId: `cmd-${uuidV7()}` },
      ),
    ];
    // One statement per append (a top-level INSERT), and no row came back from any of them.
    expect(rowCounts).toEqual([0, 0, 0, 0]);
    expect(results.map((result) => result.nextExpectedVersion)).toEqual([1, 3, 4, 6]);
    const { events } = await store.readStream(target);
    expect(events).toEqual(results.flatMap((result) => result.events));
    // A stale exact expectation (the stream is ahead) and one from the future (behind it:
    // inserting at version 9 would leave a gap) both fail with the actual version, writing nothing.
    for (const expectedVersion of [5, 8]) {
      const error: unknown = await exact
        .appendToStream(target, [{ type: 'LineAdded', data: {} }], { expectedVersion })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ expectedVersion, actualVersion: 6 });
    }
    expect((await rowsOf(target.aggregateId)).events).toBe(6);
  });

  it('returns a repeated append of stored event ids as duplicate, whatever its expected version, writing nothing', async () => {
    const target = stream('dup');
    const eventId = uuidV7();
    const first = await store.appendToStream(
      target,
      [{ type: 'OrderPlaced', data: { n: 1 }, eventId }],
      { expectedVersion: 'no-stream' },
    );
    await store.appendToStream(target, [{ type: 'LineAdded', data: { n: 2 } }], {
      expectedVersion: 1,
    });
    // Stale expectation (the mismatch row reports the id as known), 'any' and the current
    // version (both clash on the primary key): each is the same idempotent retry.
    for (const expectedVersion of [0, 'any', 2] as const) {
      const again = await store.appendToStream(
        target,
        [{ type: 'OrderPlaced', data: { n: 1 }, eventId }],
        { expectedVersion },
      );
      expect(again.status).toBe('duplicate');
      expect(again.nextExpectedVersion).toBe(2);
      expect(again.events).toEqual(first.events);
    }
    expect((await rowsOf(target.aggregateId)).events).toBe(2);
  });

  it('returns a retried command id as duplicate with its original events, whatever the retry carries, writing nothing', async () => {
    const target = stream('cmd');
    const commandId = `cmd-${uuidV7()}`;
    const first = await store.appendToStream(target, [{ type: 'OrderPlaced', data: { n: 1 } }], {
      expectedVersion: 0,
      commandId,
    });
    expect(first.status).toBe('appended');
    expect(await rowsOf(target.aggregateId)).toEqual({ events: 1, commands: 1 });
    // New event ids at the current version (the events insert, the command row clashes and
    // the statement commits nothing), at a stale version, and several events.
    for (const [expectedVersion, count] of [
      [1, 1],
      [0, 1],
      [1, 3],
    ] as const) {
      const retried = await store.appendToStream(
        target,
        Array.from({ length: count }, (_, n) => ({ type: 'LineAdded', data: { n } })),
        { expectedVersion, commandId },
      );
      expect(retried.status).toBe('duplicate');
      expect(retried.events).toEqual(first.events);
    }
    expect(await rowsOf(target.aggregateId)).toEqual({ events: 1, commands: 1 });
    expect(await store.findCommand(commandId)).toMatchObject({ fromVersion: 1, toVersion: 1 });
  });

  it('records a command with several events in the same statement', async () => {
    const target = stream('cmd-many');
    const commandId = `cmd-${uuidV7()}`;
    const { store: counted, statements } = countingStore();
    const result = await counted.appendToStream(
      target,
      [
        { type: 'OrderPlaced', data: {} },
        { type: 'LineAdded', data: {} },
      ],
      { expectedVersion: 'no-stream', commandId },
    );
    expect(statements()).toBe(1);
    expect(result.events.map((event) => event.aggregateVersion)).toEqual([1, 2]);
    expect(await store.findCommand(commandId)).toMatchObject({ fromVersion: 1, toVersion: 2 });
  });

  it('stores several events in order, with payloads and metadata that need escaping read back unchanged', async () => {
    const target = stream('many');
    const awkward = [
      { quote: 'say "hi"', backslash: 'C:\\path\\', braces: '{a,b}', comma: 'a,b', empty: '' },
      { unicode: 'Zoë 中文 😀', nul: 'NULL', nested: { list: [1, 'two', { three: null }] } },
      ['top', 'level', 'array', '"quoted"'],
      'a bare string with \\ and "',
    ];
    await store.appendToStream(target, [{ type: 'OrderPlaced', data: {} }], {
      expectedVersion: 0,
    });
    const result = await store.appendToStream(
      target,
      awkward.map((data, n) => ({
        type: n % 2 === 0 ? 'LineAdded' : 'LineNoted',
        data,
        schemaVersion: n + 1,
        metadata: { correlationId: `c-"${n}"\\`, note: '{x}' },
      })),
      { expectedVersion: 1 },
    );
    expect(result.events.map((event) => event.aggregateVersion)).toEqual([2, 3, 4, 5]);
    const { events } = await store.readStream(target, { fromVersion: 2 });
    expect(events).toEqual(result.events);
    expect(events.map((event) => event.payload)).toEqual(awkward);
    const { rows } = await pool.query<{ aggregate_version: number }>(
      'select aggregate_version from tributary.events where aggregate_id = $1 order by position',
      [target.aggregateId],
    );
    expect(rows.map((row) => row.aggregate_version)).toEqual([1, 2, 3, 4, 5]);
  });

  it('binds the same statements through knex: one and several events, a command id, a conflict', async () => {
    const knex = createKnex(env.databaseUrl, { min: 0, max: 2 });
    try {
      const viaKnex = new PostgresEventStore({ connection: knex });
      const target = stream('knex');
      await viaKnex.appendToStream(target, [{ type: 'OrderPlaced', data: { q: 'x"y\\z' } }], {
        expectedVersion: 0,
      });
      const many = await viaKnex.appendToStream(
        target,
        [
          { type: 'LineAdded', data: { n: 1 } },
          { type: 'LineAdded', data: { q: '{a,"b"}' } },
        ],
        { expectedVersion: 1, commandId: `cmd-${uuidV7()}` },
      );
      expect(many.nextExpectedVersion).toBe(3);
      const error: unknown = await viaKnex
        .appendToStream(target, [{ type: 'LineAdded', data: {} }], { expectedVersion: 1 })
        .catch((caught: unknown) => caught);
      expect(error).toMatchObject({ code: 'CONCURRENCY_CONFLICT', actualVersion: 3 });
      const { events } = await store.readStream(target);
      expect(events.map((event) => event.payload)).toEqual([
        { q: 'x"y\\z' },
        { n: 1 },
        { q: '{a,"b"}' },
      ]);
    } finally {
      await knex.destroy();
    }
  });
});
