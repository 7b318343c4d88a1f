/**
 * Metrics and health of `tributary capture` and `tributary project` on the real stack, as an
 * operator runs them (the bin, processes of their own, --metrics-port), and a real
 * Prometheus server that scrapes both, evaluates deploy/prometheus/alerts.yml and answers
 * PromQL for each stage's lag.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateOutbox, PostgresEventStore } from '@tributary/outbox';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';

const env = await useIntegrationEnv({ label: 'cli_metrics' });
const BIN = fileURLToPath(new URL('../bin/tributary.mjs', import.meta.url));
const ALERTS = fileURLToPath(new URL('../../../deploy/prometheus/alerts.yml', import.meta.url));
const PROMETHEUS = process.env.PROMETHEUS ?? 'prometheus';
const captureName = env.name('observed');
const topicPrefix = env.topic('events');
const projectionName = 'observed_counters';
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
const outside = await mkdtemp(join(tmpdir(), 'tributary-metrics-'));

const MODULE = `import { defineProjection } from '@tributary/projections';
export const projections = [
  defineProjection({
    name: '${projectionName}',
    version: 1,
    aggregateTypes: ['Counter'],
    tables: ['observed_totals'],
    migrations: [
      {
        name: '0001_totals',
        async up(_trx, migration) {
          await migration.createTable('observed_totals', (table) => {
            table.text('counter_id').primary();
            table.integer('total').notNullable();
          });
        },
      },
    ],
    handlers: {
      async Incremented(event, { trx, tables }) {
        if (event.payload.by < 0) throw new Error('negative increments are refused');
        await trx.raw(
          'insert into ?? as t (counter_id, total) values (?, ?) on conflict (counter_id) do update set total = t.total + excluded.total',
          [tables.observed_totals, event.aggregateId, event.payload.by],
        );
      },
    },
  }),
];
`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Running {
  readonly child: ChildProcess;
  readonly base: string;
  readonly port: number;
  readonly exited: Promise<number | null>;
  output(): string;
}

const running: Running[] = [];

async function start(
  command: readonly string[],
  extraEnv: Record<string, string>,
): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, ...command], {
    cwd: outside,
    env: {
      ...process.env,
      DATABASE_URL: env.databaseUrl,
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      TRIBUTARY_TOPIC_PREFIX: topicPrefix,
      TRIBUTARY_METRICS_PORT: String(port),
      TRIBUTARY_METRICS_HOST: '127.0.0.1',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const process_ = { child, port, base: `http://127.0.0.1:${port}`, exited, output: () => output };
  running.push(process_);
  return process_;
}

const captureEnv = (): Record<string, string> => ({
  TRIBUTARY_CAPTURE_NAME: captureName,
  TRIBUTARY_CHECKPOINT_TOPIC: env.topic('checkpoints'),
  TRIBUTARY_HEARTBEAT_INTERVAL_MS: '0',
  TRIBUTARY_PROGRESS_INTERVAL_MS: '300',
  TRIBUTARY_STANDBY_RETRY_MS: '300',
});

afterAll(async () => {
  for (const { child } of running) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(running.map(({ exited }) => exited));
  await store.close();
  await pool.end();
  await rm(outside, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  context: () => unknown = () => '',
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (
    !(await Promise.resolve()
      .then(check)
      .catch(() => false))
  ) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\n${JSON.stringify(context(), null, 1)}`);
    await sleep(200);
  }
}

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (enough of it for these metrics). */
async function scrape(target: Running): Promise<Sample[]> {
  const response = await fetch(`${target.base}/metrics`);
  expect(response.status).toBe(200);
  const samples: Sample[] = [];
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]),
    );
    samples.push({ name: match[1] ?? '', labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `labels`. */
function total(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const matching = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
  return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0);
}

async function health(
  target: Running,
  path: '/healthz' | '/readyz',
): Promise<{ code: number; body: { ok: boolean; status: string; reasons?: string[] } }> {
  const response = await fetch(`${target.base}${path}`);
  return {
    code: response.status,
    body: (await response.json()) as { ok: boolean; status: string; reasons?: string[] },
  };
}

const increment = (counterId: string, by: number) =>
  store.appendToStream({ aggregateType: 'Counter', aggregateId: counterId }, [
    { type: 'Incremented', data: { by } },
  ]);

let project: Running;
let captureA: Running;
let captureB: Running;

describe('metrics and health of tributary capture and tributary project', () => {
  it('project answers /healthz but not /readyz until its partitions are assigned', async () => {
    const modulePath = join(outside, 'projections.mjs');
    await writeFile(modulePath, MODULE);
    project = await start(
      [
        'project',
        '--module',
        modulePath,
        '--group-prefix',
        env.name('group'),
        '--poison',
        'park',
        '--retries',
        '1',
        '--retry-initial-ms',
        '10',
        '--retry-max-ms',
        '10',
      ],
      { TRIBUTARY_PROJECTION_MAX_WAIT_MS: '50', TRIBUTARY_PROJECTION_SESSION_TIMEOUT_MS: '10000' },
    );
    // Its topic does not exist yet (no capturer ran), so the runtime waits for it.
    await until(
      'the project metrics server',
      async () => (await health(project, '/healthz')).code === 200,
      project.output,
    );
    await until(
      'the wait for topics',
      () => project.output().includes('waiting for topics'),
      project.output,
    );
    const ready = await health(project, '/readyz');
    expect(ready.code).toBe(503);
    expect(ready.body.reasons).toEqual([
      `${projectionName}: no partitions assigned yet (consumer group not joined)`,
    ]);
  }, 90_000);

  it('capture counts events per topic and transactions, and its lag returns to 0', async () => {
    captureA = await start(['capture'], captureEnv());
    await until(
      'capture A streaming',
      async () => {
        const ready = await health(captureA, '/readyz');
        return ready.code === 200 && ready.body.status === 'streaming';
      },
      captureA.output,
    );
    expect((await health(captureA, '/healthz')).code).toBe(200);
    expect(total(await scrape(captureA), 'tributary_capture_active')).toBe(1);

    for (const by of [1, 2, 3]) await increment('c1', by);
    await store.appendToStream({ aggregateType: 'Ledger', aggregateId: 'l1' }, [
      { type: 'Booked', data: { amount: 1 } },
      { type: 'Booked', data: { amount: 2 } },
    ]);
    let samples: Sample[] = [];
    await until(
      'the five events counted',
      async () => {
        samples = await scrape(captureA);
        return total(samples, 'tributary_capture_events_total') === 5;
      },
      () => samples.filter((s) => s.name.startsWith('tributary_capture')),
    );
    expect(
      total(samples, 'tributary_capture_events_total', { topic: `${topicPrefix}.Counter` }),
    ).toBe(3);
    expect(
      total(samples, 'tributary_capture_events_total', { topic: `${topicPrefix}.Ledger` }),
    ).toBe(2);
    expect(total(samples, 'tributary_capture_transactions_total')).toBe(4);
    expect(total(samples, 'tributary_capture_lag_seconds')).toBe(0);
    expect(total(samples, 'tributary_capture_kafka_commit_seconds_count')).toBeGreaterThanOrEqual(
      1,
    );
    await until('the retained WAL reported', async () => {
      const wal = total(await scrape(captureA), 'tributary_capture_slot_retained_wal_bytes');
      return wal !== undefined && wal >= 0;
    });
  }, 90_000);

  it('project applies them: applied total equals events, lag 0, event age observed, then ready', async () => {
    const labels = { projection: projectionName };
    let samples: Sample[] = [];
    await until(
      'three events applied',
      async () => {
        samples = await scrape(project);
        return total(samples, 'tributary_projection_events_applied_total', labels) === 3;
      },
      () => ({
        samples: samples.filter((s) => s.name.startsWith('tributary_')),
        out: project.output(),
      }),
    );
    const rows = await pool.query<{ total: number }>('select total from public.observed_totals');
    expect(rows.rows).toEqual([{ total: 6 }]);
    expect(total(samples, 'tributary_projection_event_age_seconds_count', labels)).toBe(3);
    const age = total(samples, 'tributary_projection_event_age_seconds_sum', labels) ?? -1;
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(3 * 60);
    expect(
      total(samples, 'tributary_projection_batch_seconds_count', labels),
    ).toBeGreaterThanOrEqual(1);
    await until('lag 0 on every partition', async () => {
      samples = await scrape(project);
      const lag = samples.filter((s) => s.name === 'tributary_projection_lag_records');
      return (
        lag.length > 0 &&
        lag.every((s) => s.value === 0 && s.labels.topic === `${topicPrefix}.Counter`)
      );
    });
    expect(total(samples, 'tributary_projection_parked_events', labels)).toBe(0);
    await until(
      'project ready',
      async () => (await health(project, '/readyz')).code === 200,
      project.output,
    );
    expect((await health(project, '/readyz')).body.status).toBe('ready');
  }, 90_000);

  it('a failing event is retried, then parked: retries and parked events show it', async () => {
    await increment('c2', -1);
    const labels = { projection: projectionName };
    let samples: Sample[] = [];
    await until(
      'the parked event',
      async () => {
        samples = await scrape(project);
        return total(samples, 'tributary_projection_parked_events', labels) === 1;
      },
      () => samples.filter((s) => s.name.startsWith('tributary_projection')),
    );
    expect(total(samples, 'tributary_projection_retries_total', labels)).toBeGreaterThanOrEqual(1);
    expect(total(samples, 'tributary_projection_dead_letters_total', labels)).toBe(0);
    expect(total(samples, 'tributary_projection_events_applied_total', labels)).toBe(3);
  }, 90_000);

  it('capture counts a restart by reason and is ready again afterwards', async () => {
    const terminated = await pool.query<{ ok: boolean }>(
      `select pg_terminate_backend(active_pid) as ok from pg_replication_slots
        where slot_name = $1 and active_pid is not null`,
      [`tributary_${captureName}`],
    );
    expect(terminated.rows).toEqual([{ ok: true }]);
    await until(
      'the restart counted',
      async () => {
        return (total(await scrape(captureA), 'tributary_capture_restarts_total') ?? 0) >= 1;
      },
      captureA.output,
    );
    await until(
      'capture A streaming again',
      async () => (await health(captureA, '/readyz')).body.status === 'streaming',
    );
    expect(total(await scrape(captureA), 'tributary_capture_active')).toBe(1);
  }, 90_000);

  it('a second capturer stands by: ready, not active', async () => {
    captureB = await start(['capture'], captureEnv());
    await until(
      'capture B standing by',
      async () => (await health(captureB, '/readyz')).body.status === 'standby',
      captureB.output,
    );
    expect((await health(captureB, '/readyz')).code).toBe(200);
    expect(total(await scrape(captureB), 'tributary_capture_active')).toBe(0);
  }, 90_000);

  it('a real Prometheus scrapes both processes, loads the alerts and answers PromQL for each stage', async () => {
    const port = await freePort();
    const directory = await mkdtemp(join(tmpdir(), 'tributary-prometheus-'));
    const target = (r: Running) => `'127.0.0.1:${r.port}'`;
    await writeFile(
      join(directory, 'prometheus.yml'),
      `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['${ALERTS}']
scrape_configs:
  - job_name: tributary-capture
    static_configs:
      - targets: [${target(captureA)}, ${target(captureB)}]
  - job_name: tributary-projections
    static_configs:
      - targets: [${target(project)}]
`,
    );
    const prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(directory, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(directory, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    prometheus.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const spawnError = new Promise<Error>((resolve) => prometheus.once('error', resolve));
    const api = `http://127.0.0.1:${port}/api/v1`;
    type Vector = { metric: Record<string, string>; value: [number, string] }[];
    const query = async (promql: string): Promise<Vector> => {
      const response = await fetch(`${api}/query?query=${encodeURIComponent(promql)}`);
      const body = (await response.json()) as { status: string; data: { result: Vector } };
      expect(body.status).toBe('success');
      return body.data.result;
    };
    try {
      const started = await Promise.race([
        spawnError.then((error) => error),
        until(
          'Prometheus up',
          async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok,
          () => output,
        ).then(() => undefined),
      ]);
      if (started !== undefined)
        throw new Error(
          `cannot run ${PROMETHEUS} (${started.message}): install Debian's prometheus package (scripts/ci-prereqs.sh does) or set PROMETHEUS`,
        );
      await until(
        'three targets scraped and up',
        async () => {
          const up = await query('up');
          return up.length === 3 && up.every((sample) => sample.value[1] === '1');
        },
        () => output,
      );

      // Capture stage: one active capturer, its lag (0: caught up), the slot's retained WAL.
      expect(Number((await query('sum(tributary_capture_active)'))[0]?.value[1])).toBe(1);
      expect(Number((await query('max(tributary_capture_lag_seconds)'))[0]?.value[1])).toBe(0);
      const wal = await query('max(tributary_capture_slot_retained_wal_bytes)');
      expect(Number(wal[0]?.value[1])).toBeGreaterThanOrEqual(0);
      // Topics: events per topic as Prometheus stored them.
      const perTopic = await query('sum by (topic) (tributary_capture_events_total)');
      expect(Object.fromEntries(perTopic.map((s) => [s.metric.topic, Number(s.value[1])]))).toEqual(
        {
          [`${topicPrefix}.Counter`]: 4,
          [`${topicPrefix}.Ledger`]: 2,
        },
      );
      // Projection stage: records behind (as the alert computes it) and end-to-end age.
      const lag = await query(
        'sum by (projection) (max by (projection, topic, partition) (tributary_projection_lag_records))',
      );
      expect(lag.map((s) => [s.metric.projection, Number(s.value[1])])).toEqual([
        [projectionName, 0],
      ]);
      // Three applied events and the parked one: each was taken by a committed transaction.
      const age = await query('sum by (projection) (tributary_projection_event_age_seconds_count)');
      expect(age.map((s) => [s.metric.projection, Number(s.value[1])])).toEqual([
        [projectionName, 4],
      ]);

      // The rules load and evaluate; the parked event makes TributaryParkedEvents pending.
      await until(
        'the parked-events alert',
        async () => {
          const response = await fetch(`${api}/alerts`);
          const body = (await response.json()) as {
            data: { alerts: { labels: Record<string, string>; state: string }[] };
          };
          return body.data.alerts.some(
            (alert) =>
              alert.labels.alertname === 'TributaryParkedEvents' &&
              alert.labels.projection === projectionName,
          );
        },
        () => output,
      );
      const rules = (await (await fetch(`${api}/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string }[] }[] };
      };
      const loaded = rules.data.groups.flatMap((group) => group.rules);
      expect(loaded).toHaveLength(10);
      expect(loaded.filter((rule) => rule.health === 'err')).toEqual([]);
    } finally {
      prometheus.kill('SIGTERM');
      await new Promise((resolve) => prometheus.once('exit', resolve));
      await rm(directory, { recursive: true, force: true });
    }
  }, 120_000);

  it('tributary status shows the whole pipeline: slot, capturer, topics, projections', async () => {
    const run = async (...args: string[]): Promise<{ code: number | null; out: string }> => {
      const child = spawn(
        process.execPath,
        [BIN, 'status', '--module', join(outside, 'projections.mjs'), ...args],
        {
          cwd: outside,
          env: {
            ...process.env,
            DATABASE_URL: env.databaseUrl,
            KAFKA_BROKERS: env.kafkaBrokers.join(','),
            TRIBUTARY_TOPIC_PREFIX: topicPrefix,
            ...captureEnv(),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      return { code, out };
    };
    const json = await run('--json');
    expect(json.code, json.out).toBe(0);
    const status = JSON.parse(json.out) as {
      capture: {
        name: string;
        capturer: string;
        checkpointLsn: string | null;
        slot: {
          exists: boolean;
          active: boolean;
          activePid: number | null;
          retainedWalBytes: number;
        };
      };
      topics: { topic: string; endOffset: number }[];
      projections: { projection: string; lag: number; parkedEvents: number }[];
    };
    expect(status.capture).toMatchObject({
      name: captureName,
      capturer: 'streaming',
      checkpointLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) as unknown,
      slot: { exists: true, active: true },
    });
    expect(status.capture.slot.activePid).toBeGreaterThan(0);
    expect(status.capture.slot.retainedWalBytes).toBeGreaterThanOrEqual(0);
    // Four Counter events and two Ledger events, plus a commit marker per Kafka transaction.
    const ends = Object.fromEntries(status.topics.map((t) => [t.topic, t.endOffset]));
    expect(Object.keys(ends).sort()).toEqual([`${topicPrefix}.Counter`, `${topicPrefix}.Ledger`]);
    expect(ends[`${topicPrefix}.Counter`]).toBeGreaterThanOrEqual(4);
    expect(ends[`${topicPrefix}.Ledger`]).toBeGreaterThanOrEqual(2);
    expect(status.projections).toEqual([
      expect.objectContaining({ projection: projectionName, lag: 0, parkedEvents: 1 }),
    ]);
    const text = await run();
    expect(text.code, text.out).toBe(0);
    expect(text.out).toContain(`capture "${captureName}": streaming`);
    expect(text.out).toContain(
      `slot tributary_${captureName}  active (pid ${status.capture.slot.activePid})`,
    );
    expect(text.out).toContain(`${projectionName} v1 (active)  lag 0  parked 1 event(s)`);
    // No connection string (with its password) in either output.
    expect(json.out + text.out).not.toContain(env.databaseUrl);
  }, 90_000);

  it('when the active capturer stops, the standby takes over and its metrics say so', async () => {
    captureA.child.kill('SIGTERM');
    expect(await captureA.exited).toBe(0);
    await until(
      'capture B streaming',
      async () => (await health(captureB, '/readyz')).body.status === 'streaming',
      captureB.output,
    );
    expect(total(await scrape(captureB), 'tributary_capture_active')).toBe(1);
    await increment('c1', 10);
    await until(
      'the event counted by B',
      async () => {
        return (
          total(await scrape(captureB), 'tributary_capture_events_total', {
            topic: `${topicPrefix}.Counter`,
          }) === 1
        );
      },
      captureB.output,
    );
    await until('the projection caught up', async () => {
      const rows = await pool.query<{ total: number }>(
        'select total from public.observed_totals where counter_id = $1',
        ['c1'],
      );
      return rows.rows[0]?.total === 16;
    });
    for (const target of [captureB, project]) {
      target.child.kill('SIGTERM');
      expect(await target.exited).toBe(0);
    }
  }, 90_000);
});
