/**
 * Tributary on the secured stack (`npm run stack:up -- --secure`): PostgreSQL over TLS
 * (verify-full) with scram-sha-256 passwords only, Kafka over SASL_SSL with SCRAM and
 * enforced ACLs. The application, `tributary capture` and `tributary project` each run as
 * their own non-superuser role and Kafka user with exactly what `tributary grants` prints.
 * Misconfigurations (wrong password, unknown CA, a user without ACLs) stop the process at
 * once with a typed error and write nothing; and no secret appears in anything the
 * processes print, in `tributary status --json` or in /metrics. Client certificates too:
 * capture and project over the broker's mutual-TLS listener (one on each Kafka client),
 * capture authenticating to PostgreSQL by certificate, and encoding through the registry over
 * HTTPS with its CA given per client.
 *
 * Longer than ~400 lines on purpose: every case needs the roles and ACLs the first one
 * creates on the one secured stack, which starts once per file (starting it is most of the
 * file's cost), so the cases cannot move to files of their own.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ConfluentSchemaRegistryClient,
  migrateOutbox,
  PostgresEventStore,
} from '@tributary/outbox';
import {
  applyKafkaAcls,
  SECURE_CERTIFICATE_ROLE,
  findFreePort,
  removeState,
  stopStack,
  upSecureStack,
  type SecureKafkaUser,
} from '@tributary/testing';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../bin/tributary.mjs', import.meta.url));
const started = await upSecureStack();
const { secure } = started.state;
afterAll(async () => {
  // A stack this file started is stopped; one an operator started stays up.
  if (!started.reused) {
    await stopStack(started.state);
    await removeState(started.stateFile);
  }
});

const run_ = `${process.pid}_${randomBytes(3).toString('hex')}`;
const database = `secure_${run_}`;
const captureName = `secure_${run_}`.slice(0, 40);
const topicPrefix = `secure.${run_}.events`;
const checkpointTopic = `secure.${run_}.checkpoints`;
const groupPrefix = `secure.${run_}.group`;
const pgPassword = randomBytes(12).toString('base64url');
const outside = await mkdtemp(join(tmpdir(), 'tributary-secure-'));
const superUrl = new URL(secure.databaseUrl);
const admin = new pg.Pool({ connectionString: superUrl.toString(), max: 1 });
await admin.query(`create database ${database}`);
/**
 * The role's URL: by client certificate for {@link SECURE_CERTIFICATE_ROLE} (pg_hba.conf
 * admits it no other way), by password for the others.
 */
const dbUrl = (role?: string, password = pgPassword): string => {
  const url = new URL(superUrl);
  url.pathname = `/${database}`;
  if (role === SECURE_CERTIFICATE_ROLE) {
    url.username = role;
    url.searchParams.set('sslcert', secure.certificates.clients.tributary_capture.certFile);
    url.searchParams.set('sslkey', secure.certificates.clients.tributary_capture.keyFile);
  } else if (role !== undefined) {
    url.username = role;
    url.password = password;
  }
  return url.toString();
};
const owner = new pg.Pool({ connectionString: dbUrl(), max: 2 });
afterAll(async () => {
  await owner.end();
  await admin.end();
  await rm(outside, { recursive: true, force: true });
});

/**
 * Each failure case is one CLI process that stops within seconds of its first log line (the
 * bound `stopsAtOnce` checks); loading the CLI from its sources takes CPU seconds that a
 * loaded 2-core machine stretches to a minute or more, hence the generous test timeout.
 */
const FAILURE_CASE_TIMEOUT_MS = 180_000;

/** Everything any process printed, for the secrets check at the end. */
const transcript: string[] = [];

function tributary(args: readonly string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: outside,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let logs = '';
  // From the first line the command logs, when its work begins: process start-up (loading
  // the CLI) is not what the bound is about, and on a loaded machine it takes many seconds.
  let began: number | undefined;
  const collect = (chunk: string): void => {
    began ??= Date.now();
    logs += chunk;
  };
  child.stdout.setEncoding('utf8').on('data', collect);
  child.stderr.setEncoding('utf8').on('data', collect);
  const exited = new Promise<{ code: number | null; ms: number }>((resolve) =>
    child.once('exit', (code) => {
      transcript.push(logs);
      resolve({ code, ms: Date.now() - (began ?? Date.now()) });
    }),
  );
  return { child, exited, logs: () => logs };
}

/**
 * Over the mutual-TLS listener: the client certificate of `user` (CN = the user, so the same
 * ACLs apply) instead of SASL. An empty value unsets a setting.
 */
const mtlsEnv = (
  user: 'tributary_capture' | 'tributary_projections',
  overrides: Record<string, string> = {},
) =>
  kafkaEnv(user, {
    KAFKA_BROKERS: secure.kafkaMtlsBrokers.join(','),
    KAFKA_TLS_CERT_FILE: secure.certificates.clients[user].certFile,
    KAFKA_TLS_KEY_FILE: secure.certificates.clients[user].keyFile,
    KAFKA_SASL_MECHANISM: '',
    KAFKA_SASL_USERNAME: '',
    KAFKA_SASL_PASSWORD: '',
    ...overrides,
  });

const kafkaEnv = (user: SecureKafkaUser, overrides: Record<string, string> = {}) => ({
  KAFKA_BROKERS: secure.kafkaBrokers.join(','),
  KAFKA_TLS_CA_FILE: secure.certificates.caFile,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: user,
  KAFKA_SASL_PASSWORD: secure.kafkaPasswords[user],
  TRIBUTARY_CAPTURE_NAME: captureName,
  TRIBUTARY_TOPIC_PREFIX: topicPrefix,
  TRIBUTARY_CHECKPOINT_TOPIC: checkpointTopic,
  TRIBUTARY_HEARTBEAT_INTERVAL_MS: '0',
  ...overrides,
});

async function until(what: string, check: () => Promise<boolean>, logs: () => string) {
  const deadline = Date.now() + 90_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function grants(...flags: string[]): string {
  const result = spawnSync(
    process.execPath,
    [
      BIN,
      'grants',
      '--database',
      database,
      '--capture-name',
      captureName,
      '--topic-prefix',
      topicPrefix,
      '--checkpoint-topic',
      checkpointTopic,
      '--group-id-prefix',
      groupPrefix,
      ...flags,
    ],
    { encoding: 'utf8' },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

/** Runs `work` with a kafkajs admin on the stack's unsecured admin listener. */
async function withKafkaAdmin<T>(work: (kafkaAdmin: Admin) => Promise<T>): Promise<T> {
  const kafkaAdmin = new Kafka({
    brokers: [...secure.kafkaAdminBrokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await kafkaAdmin.connect();
  try {
    return await work(kafkaAdmin);
  } finally {
    await kafkaAdmin.disconnect();
  }
}

const topicsOfThisRun = (): Promise<string[]> =>
  withKafkaAdmin(async (kafkaAdmin) =>
    (await kafkaAdmin.listTopics()).filter((topic) => topic.startsWith(`secure.${run_}`)),
  );

const MODULE = `import { defineProjection } from '@tributary/projections';
export const projections = [
  defineProjection({
    name: 'secure_totals',
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['secure_totals'],
    migrations: [{ name: '0001', async up(_trx, m) {
      await m.createTable('secure_totals', (t) => { t.text('counter_id').primary(); t.integer('total').notNullable(); });
    } }],
    handlers: {
      async Incremented(event, { trx, tables }) {
        await trx.raw('insert into ?? as t (counter_id, total) values (?, ?) on conflict (counter_id) do update set total = t.total + excluded.total',
          [tables.secure_totals, event.aggregateId, event.payload.by]);
      },
    },
  }),
];
`;

const modulePath = join(outside, 'projections.mjs');
await writeFile(modulePath, MODULE);
const schemasPath = join(outside, 'schemas.mjs');
await writeFile(
  schemasPath,
  `import { defineEventSchemas, jsonSchema } from '@tributary/core';
export default defineEventSchemas([
  jsonSchema({
    aggregateType: 'Counter',
    eventType: 'Incremented',
    schema: { type: 'object', properties: { by: { type: 'integer' } }, required: ['by'] },
  }),
]);
`,
);

const registryEnv = {
  SCHEMA_REGISTRY_URL: secure.schemaRegistryUrl,
  SCHEMA_REGISTRY_CA_FILE: secure.certificates.caFile,
  SCHEMA_REGISTRY_USERNAME: secure.registryCredentials.username,
  SCHEMA_REGISTRY_PASSWORD: secure.registryCredentials.password,
};
/** The same projection as a version 2, for `tributary rebuild`. */
const moduleV2Path = join(outside, 'projections-v2.mjs');
await writeFile(moduleV2Path, MODULE.replace('version: 1,', 'version: 2,'));

/** The sum of the read model (0 before it exists). */
const totals = async (): Promise<number> => {
  const { rows } = await owner
    .query<{ total: number | null }>('select sum(total)::int as total from public.secure_totals')
    .catch(() => ({ rows: [{ total: 0 }] }));
  return rows[0]?.total ?? 0;
};
const projectArgs = ['project', '--module', modulePath, '--group-prefix', groupPrefix];

/** Waits for a process that must stop on its own, and checks it stopped at once with `code`. */
async function stopsAtOnce(process_: ReturnType<typeof tributary>, code: RegExp): Promise<string> {
  const { code: exitCode, ms } = await process_.exited;
  expect(exitCode, process_.logs()).toBe(1);
  expect(process_.logs()).toMatch(code);
  // No retry loop: the client's own bounded retries, then the process is gone.
  expect(ms, process_.logs()).toBeLessThan(30_000);
  return process_.logs();
}

/** `url` with `sslmode=disable` and no CA: a client without TLS. */
const withoutTls = (url: string): string => {
  const plain = new URL(url);
  plain.searchParams.set('sslmode', 'disable');
  for (const name of ['sslrootcert', 'sslcert', 'sslkey']) plain.searchParams.delete(name);
  return plain.toString();
};

describe('the secured stack', () => {
  it('prepares least-privilege roles and ACLs from tributary grants', async () => {
    await migrateOutbox({ connectionString: dbUrl() });
    await owner.query(grants('--sql'));
    for (const role of ['tributary_app', 'tributary_capture', 'tributary_projections']) {
      await owner.query(`alter role ${role} password '${pgPassword}'`);
    }
    expect(await applyKafkaAcls(secure.kafkaAdminBrokers, grants('--kafka'))).toBeGreaterThan(5);
  }, 150_000);

  // Independent processes: run side by side to keep the file's cost down.
  it.concurrent.each([
    ['a wrong Kafka password', /\[KAFKA_AUTHENTICATION_FAILED\]/, { KAFKA_SASL_PASSWORD: 'wrong' }],
    [
      'an unknown CA',
      /\[KAFKA_TLS_FAILED\]/,
      { KAFKA_TLS_CA_FILE: secure.certificates.otherCaFile },
    ],
    [
      'a Kafka user without ACLs',
      /AUTHORIZATION_FAILED.*\[(KAFKA_AUTHORIZATION_FAILED|CAPTURE_RECORD_REJECTED)\]/,
      {
        KAFKA_SASL_USERNAME: 'tributary_intruder',
        KAFKA_SASL_PASSWORD: secure.kafkaPasswords.tributary_intruder,
      },
    ],
  ] as const)(
    'capture with %s stops at once with %s and writes nothing',
    async (_what, code, overrides) => {
      const capture = tributary(['capture'], {
        DATABASE_URL: dbUrl('tributary_capture'),
        ...kafkaEnv('tributary_capture', overrides),
      });
      await stopsAtOnce(capture, code);
      expect(await topicsOfThisRun()).toEqual([]);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  // A client without TLS against the SASL_SSL listener: the broker closes the connection
  // without an answer, which both libraries report like a broker that is down.
  // One process per command and client library; each command runs each library elsewhere.
  it.concurrent.each([
    ['capture', 'kafkajs'],
    ['project', 'platformatic'],
  ] as const)(
    '%s on %s without TLS against the TLS listener stops with KAFKA_TLS_REQUIRED',
    async (command, client) => {
      const capturing = command === 'capture';
      const run = tributary(capturing ? ['capture'] : projectArgs, {
        DATABASE_URL: dbUrl(capturing ? 'tributary_capture' : 'tributary_projections'),
        ...kafkaEnv(capturing ? 'tributary_capture' : 'tributary_projections', {
          KAFKA_TLS_CA_FILE: '',
          TRIBUTARY_KAFKA_CLIENT: client,
        }),
      });
      const logs = await stopsAtOnce(run, /\[KAFKA_TLS_REQUIRED\]/);
      expect(logs).toContain(`the broker at ${secure.kafkaBrokers[0] ?? ''} expects TLS`);
      expect(logs).toContain('KAFKA_SSL=true (--kafka-ssl true)');
      expect(await topicsOfThisRun()).toEqual([]);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  // The listener refuses the handshake with a TLS alert: kafkajs reports the alert,
  // @platformatic/kafka only "Connection closed", so its client probes for the alert.
  it.concurrent.each([
    ['capture', 'kafkajs'],
    ['project', 'platformatic'],
  ] as const)(
    '%s on %s without a client certificate against the mutual-TLS listener stops with KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED',
    async (command, client) => {
      const capturing = command === 'capture';
      const run = tributary(capturing ? ['capture'] : projectArgs, {
        DATABASE_URL: dbUrl(capturing ? 'tributary_capture' : 'tributary_projections'),
        ...mtlsEnv(capturing ? 'tributary_capture' : 'tributary_projections', {
          KAFKA_TLS_CERT_FILE: '',
          KAFKA_TLS_KEY_FILE: '',
          TRIBUTARY_KAFKA_CLIENT: client,
        }),
      });
      const logs = await stopsAtOnce(run, /\[KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED\]/);
      expect(logs).toContain('requires a client certificate (mutual TLS)');
      expect(logs).toContain('KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE');
      expect(await topicsOfThisRun()).toEqual([]);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'capture without TLS against the hostssl-only PostgreSQL stops with CAPTURE_DATABASE_TLS_REQUIRED',
    async () => {
      const capture = tributary(['capture'], {
        DATABASE_URL: withoutTls(dbUrl('tributary_capture')),
        ...kafkaEnv('tributary_capture'),
      });
      const logs = await stopsAtOnce(capture, /\[CAPTURE_DATABASE_TLS_REQUIRED\]/);
      expect(logs).toContain('sslmode=verify-full');
      expect(await topicsOfThisRun()).toEqual([]);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'project without TLS against the hostssl-only PostgreSQL stops with PROJECTION_DATABASE_TLS_REQUIRED',
    async () => {
      const project = tributary(projectArgs, {
        DATABASE_URL: withoutTls(dbUrl('tributary_projections')),
        ...kafkaEnv('tributary_projections'),
      });
      const logs = await stopsAtOnce(project, /\[PROJECTION_DATABASE_TLS_REQUIRED\]/);
      expect(logs).toContain('sslmode=verify-full');
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  it.concurrent.each(['platformatic'] as const)(
    'project on %s with a wrong Kafka password stops with KAFKA_AUTHENTICATION_FAILED',
    async (client) => {
      const project = tributary(projectArgs, {
        DATABASE_URL: dbUrl('tributary_projections'),
        ...kafkaEnv('tributary_projections', {
          KAFKA_SASL_PASSWORD: 'wrong',
          TRIBUTARY_KAFKA_CLIENT: client,
        }),
      });
      await stopsAtOnce(project, /\[KAFKA_AUTHENTICATION_FAILED\]/);
      expect(await topicsOfThisRun()).toEqual([]);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  it.concurrent(
    'project whose dead-letter topic is not granted stops with KAFKA_AUTHORIZATION_FAILED',
    async () => {
      const project = tributary(
        [...projectArgs, '--poison', 'dead-letter', '--dead-letter-prefix', `secure.${run_}.dlq`],
        { DATABASE_URL: dbUrl('tributary_projections'), ...kafkaEnv('tributary_projections') },
      );
      await stopsAtOnce(project, /AUTHORIZATION_FAILED.*\[KAFKA_AUTHORIZATION_FAILED\]/);
      expect(await topicsOfThisRun()).toEqual([]);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  // pg_hba.conf admits the capture role by client certificate only (`cert`).
  it.concurrent(
    'capture with a password but no client certificate stops with CAPTURE_DATABASE_ACCESS_DENIED',
    async () => {
      const url = new URL(dbUrl('tributary_capture'));
      url.searchParams.delete('sslcert');
      url.searchParams.delete('sslkey');
      url.password = pgPassword;
      const capture = tributary(['capture'], {
        DATABASE_URL: url.toString(),
        ...kafkaEnv('tributary_capture'),
      });
      const { code, ms } = await capture.exited;
      expect(code, capture.logs()).toBe(1);
      expect(capture.logs()).toContain('[CAPTURE_DATABASE_ACCESS_DENIED]');
      expect(capture.logs()).toContain('sslcert=');
      expect(ms).toBeLessThan(30_000);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  it('runs capture and projections end to end, each as its own role and Kafka user', async () => {
    const store = new PostgresEventStore({ connectionString: dbUrl('tributary_app') });
    const metricsPort = await findFreePort();
    const capture = tributary(
      ['capture', '--metrics-port', String(metricsPort), '--metrics-host', '127.0.0.1'],
      {
        DATABASE_URL: dbUrl('tributary_capture'),
        ...kafkaEnv('tributary_capture'),
      },
    );
    const project = tributary(projectArgs, {
      DATABASE_URL: dbUrl('tributary_projections'),
      ...kafkaEnv('tributary_projections', { KAFKA_SASL_MECHANISM: 'scram-sha-256' }),
    });
    const logs = () => `--- capture\n${capture.logs()}\n--- project\n${project.logs()}`;
    let metrics = '';
    try {
      await until(
        'the capturer to start',
        () => Promise.resolve(capture.logs().includes('loaded Kafka checkpoint')),
        logs,
      );
      for (let counter = 0; counter < 3; counter += 1) {
        for (let version = 1; version <= 3; version += 1) {
          await store.appendToStream({ aggregateType: 'Counter', aggregateId: `c${counter}` }, [
            { type: 'Incremented', data: { by: version } },
          ]);
        }
      }
      await until(
        'every event in the read model',
        async () => {
          const { rows } = await owner
            .query<{ total: number }>('select sum(total)::int as total from public.secure_totals')
            .catch(() => ({ rows: [{ total: 0 }] }));
          return rows[0]?.total === 3 * (1 + 2 + 3);
        },
        logs,
      );
      metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toContain('tributary_');
    } finally {
      capture.child.kill('SIGTERM');
      project.child.kill('SIGTERM');
      await store.close();
    }
    expect((await capture.exited).code).toBe(0);
    expect((await project.exited).code).toBe(0);

    const status = tributary(
      ['status', '--json', '--module', modulePath, '--group-prefix', groupPrefix],
      {
        DATABASE_URL: dbUrl('tributary_projections'),
        TRIBUTARY_SOURCE_DATABASE_URL: dbUrl(),
        ...kafkaEnv('tributary_projections'),
      },
    );
    const statusExit = await status.exited;
    transcript.push(metrics);
    expect(statusExit.code, status.logs()).toBe(0);
  }, 180_000);

  // Beside the group cases below, on the topics, slot and group of the case above: each
  // process resumes where that one stopped, so a handful of events is the whole cost.
  it.concurrent(
    'runs capture (kafkajs) and project (platformatic) over mutual TLS, encoding through the HTTPS registry',
    async () => {
      const store = new PostgresEventStore({ connectionString: dbUrl('tributary_app') });
      const before = await totals();
      const capture = tributary(['capture', '--schemas', schemasPath], {
        DATABASE_URL: dbUrl('tributary_capture'),
        ...mtlsEnv('tributary_capture', { TRIBUTARY_KAFKA_CLIENT: 'kafkajs', ...registryEnv }),
      });
      const project = tributary(projectArgs, {
        DATABASE_URL: dbUrl('tributary_projections'),
        ...mtlsEnv('tributary_projections', {
          TRIBUTARY_KAFKA_CLIENT: 'platformatic',
          ...registryEnv,
        }),
      });
      const logs = () => `--- capture\n${capture.logs()}\n--- project\n${project.logs()}`;
      try {
        for (const by of [10, 20]) {
          await store.appendToStream({ aggregateType: 'Counter', aggregateId: 'mtls' }, [
            { type: 'Incremented', data: { by } },
          ]);
        }
        await until(
          'the mTLS events in the read model',
          async () => {
            return (await totals()) === before + 30;
          },
          logs,
        );
      } finally {
        capture.child.kill('SIGTERM');
        project.child.kill('SIGTERM');
        await store.close();
      }
      expect((await capture.exited).code, logs()).toBe(0);
      expect((await project.exited).code, logs()).toBe(0);
      // Capture registered the schema on first use: the records went out registry-encoded.
      const ca = await readFile(secure.certificates.caFile, 'utf8');
      const registry = new ConfluentSchemaRegistryClient({
        url: secure.schemaRegistryUrl,
        ca,
        auth: secure.registryCredentials,
      });
      const subjects = await registry.subjects();
      expect(subjects.filter((subject) => subject.startsWith(topicPrefix))).toHaveLength(1);
      // The registry does require the credentials: without them, or with a wrong password,
      // a request is refused with what to check, and not retried.
      for (const auth of [undefined, { ...secure.registryCredentials, password: 'wrong' }]) {
        const refused = new ConfluentSchemaRegistryClient({
          url: secure.schemaRegistryUrl,
          ca,
          ...(auth === undefined ? {} : { auth }),
        });
        await expect(refused.subjects()).rejects.toMatchObject({
          code: 'REGISTRY_REQUEST_FAILED',
          status: 401,
          retriable: false,
          message: expect.stringMatching(/SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD/),
        });
      }
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  // The event topics exist now, so the runtime gets as far as joining its group.
  it.concurrent.each(['kafkajs', 'platformatic'] as const)(
    'project on %s in a group outside its ACLs stops with KAFKA_AUTHORIZATION_FAILED',
    async (client) => {
      const stranger = tributary(
        ['project', '--module', modulePath, '--group-prefix', `secure.${run_}.stranger`],
        {
          DATABASE_URL: dbUrl('tributary_projections'),
          ...kafkaEnv('tributary_projections', { TRIBUTARY_KAFKA_CLIENT: client }),
        },
      );
      await stopsAtOnce(stranger, /GROUP_AUTHORIZATION_FAILED.*\[KAFKA_AUTHORIZATION_FAILED\]/);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  // The operator's commands over the mutual-TLS listener, beside the cases above (the event
  // topics exist now). `parked` reads only the database; it runs with the same settings.
  it.concurrent(
    'runs status (platformatic), rebuild --no-swap (kafkajs) and parked list over mutual TLS',
    async () => {
      const readModelDb = { DATABASE_URL: dbUrl('tributary_projections') };
      const status = tributary(
        ['status', '--json', '--module', modulePath, '--group-prefix', groupPrefix],
        {
          ...readModelDb,
          TRIBUTARY_SOURCE_DATABASE_URL: dbUrl(),
          ...mtlsEnv('tributary_projections', { TRIBUTARY_KAFKA_CLIENT: 'platformatic' }),
        },
      );
      const rebuild = tributary(
        [
          'rebuild',
          'secure_totals',
          '--module',
          moduleV2Path,
          '--group-prefix',
          groupPrefix,
          '--no-swap',
        ],
        {
          ...readModelDb,
          ...mtlsEnv('tributary_projections', {
            TRIBUTARY_KAFKA_CLIENT: 'kafkajs',
            ...registryEnv,
          }),
        },
      );
      const parked = tributary(['parked', 'list', '--json'], {
        ...readModelDb,
        ...mtlsEnv('tributary_projections'),
      });
      expect((await status.exited).code, status.logs()).toBe(0);
      const report = JSON.parse(status.logs()) as {
        topics: { topic: string }[];
        projections: { projection: string; version: number; partitions: unknown[] }[];
      };
      expect(report.topics.map((topic) => topic.topic)).toContain(`${topicPrefix}.Counter`);
      const v1 = report.projections.find(
        (p) => p.projection === 'secure_totals' && p.version === 1,
      );
      expect(v1?.partitions.length, status.logs()).toBeGreaterThan(0);
      expect((await rebuild.exited).code, rebuild.logs()).toBe(0);
      expect(rebuild.logs()).toMatch(/secure_totals v2 caught up: \d+ offsets .*not swapped/);
      expect((await parked.exited).code, parked.logs()).toBe(0);
      expect(JSON.parse(parked.logs())).toEqual({ parked: [] });
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  // After the cases that run capture: one capturer at a time on the slot, which they created
  // (the event below is captured only because the slot predates it).
  it(
    'capture refused by the registry (wrong password) stops with REGISTRY_REQUEST_FAILED and writes nothing',
    async () => {
      const endOffsets = (): Promise<string> =>
        withKafkaAdmin(async (kafkaAdmin) => {
          const topics = (await kafkaAdmin.listTopics()).filter((t) => t.startsWith(topicPrefix));
          const offsets = await Promise.all(
            topics.sort().map(async (topic) => ({
              topic,
              offsets: (await kafkaAdmin.fetchTopicOffsets(topic)).map((o) => o.high),
            })),
          );
          return JSON.stringify(offsets);
        });
      const before = await endOffsets();
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      const capture = tributary(['capture', '--schemas', schemasPath], {
        DATABASE_URL: dbUrl('tributary_capture'),
        ...kafkaEnv('tributary_capture', { ...registryEnv, SCHEMA_REGISTRY_PASSWORD: wrong }),
      });
      const store = new PostgresEventStore({ connectionString: dbUrl('tributary_app') });
      try {
        await store.appendToStream({ aggregateType: 'Counter', aggregateId: 'refused' }, [
          { type: 'Incremented', data: { by: 1 } },
        ]);
      } finally {
        await store.close();
      }
      const logs = await stopsAtOnce(capture, /\[REGISTRY_REQUEST_FAILED\]/);
      // The line of the error names the registry, the refusal and what to check.
      const failure = logs.split('\n').find((line) => line.includes('[REGISTRY_REQUEST_FAILED]'));
      expect(failure, logs).toContain(
        `the schema registry ${secure.schemaRegistryUrl} refused the request (401`,
      );
      expect(failure, logs).toContain('SCHEMA_REGISTRY_PASSWORD');
      expect(logs).not.toContain(wrong);
      expect(await endOffsets()).toBe(before);
    },
    FAILURE_CASE_TIMEOUT_MS,
  );

  it('prints, serves and reports no secret in any of these runs', async () => {
    const keys = await Promise.all(
      [
        secure.certificates.serverKeyFile,
        ...Object.values(secure.certificates.clients).map((client) => client.keyFile),
      ].map((file) => readFile(file, 'utf8')),
    );
    const keyBody = keys
      .join('\n')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('-----'));
    const secrets = [
      pgPassword,
      ...Object.values(secure.kafkaPasswords),
      secure.registryCredentials.password,
      ...keyBody,
    ];
    const everything = transcript.join('\n');
    expect(everything.length).toBeGreaterThan(1_000);
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
