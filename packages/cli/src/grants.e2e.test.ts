/**
 * `tributary grants` proven on the real stack: the SQL it prints is applied by the owner,
 * then the application, `tributary capture` and `tributary project` each run as their own
 * non-superuser role with those grants only, and every event still reaches the read model.
 * Each role is also refused what it was not granted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const env = await useIntegrationEnv({ label: 'cli_grants' });
const BIN = fileURLToPath(new URL('../bin/tributary.mjs', import.meta.url));
const roles = { app: env.name('app'), capture: env.name('capture'), projections: env.name('proj') };
const captureName = env.name('grants').slice(0, 40);
const topicPrefix = env.topic('events');
const PASSWORD = 'least-privilege-pw';
const outside = await mkdtemp(join(tmpdir(), 'tributary-grants-'));
await migrateOutbox({ connectionString: env.databaseUrl });
const owner = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
afterAll(async () => {
  await owner.end();
  await rm(outside, { recursive: true, force: true });
});

const urlAs = (role: string): string => {
  const url = new URL(env.databaseUrl);
  url.username = role;
  url.password = PASSWORD;
  return url.toString();
};

function grants(...flags: string[]): string {
  const result = spawnSync(
    process.execPath,
    [
      BIN,
      'grants',
      '--database',
      env.database,
      '--app-role',
      roles.app,
      '--capture-role',
      roles.capture,
      '--projections-role',
      roles.projections,
      '--capture-name',
      captureName,
      '--topic-prefix',
      topicPrefix,
      ...flags,
    ],
    { encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

const MODULE = `import { defineProjection } from '@tributary/projections';
export const projections = [
  defineProjection({
    name: 'grant_totals',
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['grant_totals'],
    migrations: [{ name: '0001', async up(_trx, m) {
      await m.createTable('grant_totals', (t) => { t.text('counter_id').primary(); t.integer('total').notNullable(); });
    } }],
    handlers: {
      async Incremented(event, { trx, tables }) {
        await trx.raw('insert into ?? as t (counter_id, total) values (?, ?) on conflict (counter_id) do update set total = t.total + excluded.total',
          [tables.grant_totals, event.aggregateId, event.payload.by]);
      },
    },
  }),
];
`;

function run(args: readonly string[], databaseUrl: string) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: outside,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      TRIBUTARY_CAPTURE_NAME: captureName,
      TRIBUTARY_TOPIC_PREFIX: topicPrefix,
      TRIBUTARY_CHECKPOINT_TOPIC: env.topic('checkpoints'),
      TRIBUTARY_HEARTBEAT_INTERVAL_MS: '0',
    },
  });
  let logs = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (logs += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, exited, logs: () => logs };
}

async function until(what: string, check: () => Promise<boolean>, logs: () => string) {
  const deadline = Date.now() + 90_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function refused(role: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: urlAs(role) });
  await client.connect();
  try {
    await client.query(sql);
    return 'allowed';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end();
  }
}

describe('tributary grants', () => {
  it('prints Kafka ACLs for the capture transactional id, topics and projection groups', () => {
    const acls = grants('--kafka');
    expect(acls).toContain(
      `User:${roles.capture} --operation Write --operation Describe --transactional-id tributary.capture.${captureName}`,
    );
    expect(acls).toContain(
      `User:${roles.projections} --operation Read --operation Describe --topic ${topicPrefix}. --resource-pattern-type prefixed`,
    );
    expect(acls).not.toContain('create role');
    // One CLI start (spawnSync): seconds on a busy machine, more than the 20 s default.
  }, 60_000);

  it('runs the application, capture and projections as three non-superuser roles with only the printed grants', async () => {
    const sql = grants('--sql');
    await owner.query(sql);
    await owner.query(sql); // idempotent: an operator can re-apply it
    for (const role of Object.values(roles)) {
      await owner.query(`alter role ${role} password '${PASSWORD}'`);
    }
    const attributes = await owner.query<{
      rolname: string;
      rolsuper: boolean;
      rolreplication: boolean;
    }>(
      'select rolname, rolsuper, rolreplication from pg_roles where rolname = any($1) order by rolname',
      [Object.values(roles)],
    );
    expect(attributes.rows.every((row) => !row.rolsuper)).toBe(true);
    expect(attributes.rows.filter((row) => row.rolreplication).map((row) => row.rolname)).toEqual([
      roles.capture,
    ]);

    // The application appends as its own role.
    const store = new PostgresEventStore({ connectionString: urlAs(roles.app) });
    const modulePath = join(outside, 'projections.mjs');
    await writeFile(modulePath, MODULE);
    const capture = run(['capture'], urlAs(roles.capture));
    const project = run(
      [
        'project',
        '--module',
        modulePath,
        '--topic-prefix',
        topicPrefix,
        '--group-prefix',
        env.name('group'),
        '--missing-topics',
        'create',
      ],
      urlAs(roles.projections),
    );
    const logs = () => `--- capture\n${capture.logs()}\n--- project\n${project.logs()}`;
    try {
      // Rows committed before the slot exists are not captured: wait for it.
      await until(
        'the capturer to start',
        () => Promise.resolve(capture.logs().includes('loaded Kafka checkpoint')),
        logs,
      );
      for (let counter = 0; counter < 5; counter += 1) {
        for (let version = 1; version <= 4; version += 1) {
          // With a command id: the append also records it (idempotent commands).
          await store.appendToStream(
            { aggregateType: 'Counter', aggregateId: `c${counter}` },
            [{ type: 'Incremented', data: { by: version } }],
            { commandId: `cmd-c${counter}-${version}` },
          );
        }
      }
      await until(
        'every event in the read model',
        async () => {
          const { rows } = await owner
            .query<{ total: number }>('select sum(total)::int as total from public.grant_totals')
            .catch(() => ({ rows: [{ total: 0 }] }));
          return rows[0]?.total === 5 * (1 + 2 + 3 + 4);
        },
        logs,
      );
    } finally {
      capture.child.kill('SIGTERM');
      project.child.kill('SIGTERM');
      await store.close();
    }
    expect(await capture.exited).toBe(0);
    expect(await project.exited).toBe(0);

    // What each role was not granted is refused.
    expect(await refused(roles.app, 'delete from tributary.events')).toMatch(/permission denied/);
    expect(await refused(roles.app, 'select * from public.grant_totals_v1')).toMatch(
      /permission denied/,
    );
    expect(
      await refused(
        roles.capture,
        `insert into tributary.events (event_id, aggregate_type, aggregate_id, aggregate_version, event_type, schema_version, payload, metadata, occurred_at)
         values (gen_random_uuid(), 'Counter', 'x', 1, 'Incremented', 1, '{}', '{}', now())`,
      ),
    ).toMatch(/permission denied/);
    expect(await refused(roles.projections, 'select count(*) from tributary.events')).toMatch(
      /permission denied/,
    );
    expect(await refused(roles.projections, 'create schema intruder')).toMatch(/permission denied/);
  }, 180_000);
});
