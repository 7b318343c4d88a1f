/**
 * Crash tests: the capturer runs as a child process (`tributary capture`) and is SIGKILLed
 * at named points and at random times while concurrent writers commit, roll back and
 * write multi-aggregate transactions. After every restart a read_committed reader must
 * see every event committed before that restart exactly once, and never an event of a
 * rolled-back transaction; at the end, per aggregate, versions are contiguous and
 * increasing in partition order. A paused zombie resumed after its successor took over
 * must get nothing committed.
 *
 * The restarted capturers alternate between the two Kafka clients, so each client is
 * killed at every named point and at random ones, and each resumes from checkpoints and
 * transactions the other left behind (a deployment switching clients by rolling restart).
 *
 * `npm test` runs the short version (4 extra random kills, 10,000 events);
 * `npm run test:crash` the long one (14 extra random kills, 20,000 events).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crashRunSize, useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../event-store/postgres-event-store.js';
import { migrateOutbox } from '../migrations.js';
import { assertOrder, Ledger, Load, random, sleep, TYPES } from './crash.test.support.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';

const env = await useIntegrationEnv({ label: 'crash' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 8 });
const database = { pool, store };
const children = new Set<ChildProcess>();
const loads: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(loads.map((load) => load.stop()));
  for (const child of children) child.kill('SIGKILL');
  await store.close();
  await pool.end();
});

/** The Kafka clients the capturer children alternate between. */
const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
type KafkaClientName = (typeof KAFKA_CLIENTS)[number];
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../../cli/src/run.ts', import.meta.url));
const LOG_DIR = mkdtempSync(join(tmpdir(), 'tributary-crash-'));

interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `tributary capture` from the sources, configured through environment variables. */
function startCapturer(
  label: string,
  name: string,
  client: KafkaClientName,
  extra: Record<string, string> = {},
): Child {
  const logFile = join(LOG_DIR, `${label}.log`);
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CLI, 'capture', '--log-format', 'json'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        DATABASE_URL: env.databaseUrl,
        KAFKA_BROKERS: env.kafkaBrokers.join(','),
        TRIBUTARY_CAPTURE_NAME: name,
        TRIBUTARY_TOPIC_PREFIX: env.topic(name),
        TRIBUTARY_CHECKPOINT_TOPIC: env.topic('checkpoints'),
        TRIBUTARY_BATCH_MAX_EVENTS: '400',
        TRIBUTARY_STANDBY_RETRY_MS: '200',
        TRIBUTARY_PROGRESS_INTERVAL_MS: '2000',
        TRIBUTARY_HEARTBEAT_INTERVAL_MS: '1000',
        TRIBUTARY_KAFKA_CLIENT: client,
        ...extra,
      },
    },
  );
  children.add(child);
  const lines: string[] = [];
  const collect = (chunk: Buffer): void => {
    const text = chunk.toString();
    appendFileSync(logFile, text);
    lines.push(...text.split('\n').filter((line) => line !== ''));
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { process: child, lines, exited };
}

/** The slot and publication exist before the first write, so no event predates the slot. */
async function prepareSlot(name: string): Promise<void> {
  await pool.query(
    `create publication "tributary_${name}" for table tributary.events with (publish = 'insert')`,
  );
  await pool.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [
    `tributary_${name}`,
  ]);
}

const topicsOf = (name: string): string[] => TYPES.map((type) => env.topic(`${name}.${type}`));

/** Random kills after the named rounds, and the events committed by the end of the run. */
const EXTRA_RANDOM_KILLS = crashRunSize({ short: 4, long: 14 });
const EVENTS = crashRunSize({ short: 10_000, long: 20_000 });

describe('capture under crashes, restarts alternating between both Kafka clients', () => {
  it('delivers every committed event exactly once across named and random SIGKILLs under concurrent writers', async () => {
    const name = env.name('main');
    await prepareSlot(name);
    const load = new Load(database, 'main');
    loads.push(load);
    load.start(4, 450, 1_000_000);
    await load.until(300);
    const first = startCapturer('bootstrap', name, 'kafkajs');
    const reader = await readTopics(env.kafkaBrokers, topicsOf(name));
    const ledger = new Ledger(reader);
    first.process.kill('SIGKILL');
    await first.exited;

    // Named kill points interleaved with random kills, so the restart after each named
    // crash is verified before the next crash. Even cycles run kafkajs, odd ones
    // @platformatic/kafka: the first round of named points hits kafkajs, the second one
    // (shifted by one cycle) @platformatic/kafka.
    const named = ['produce', 'random', 'after-commit', 'random', 'after-ack'];
    const schedule = [
      ...named,
      ...named,
      ...Array.from({ length: EXTRA_RANDOM_KILLS }, () => 'random'),
    ];
    const clientOf = (cycle: number): KafkaClientName => KAFKA_CLIENTS[cycle % 2] ?? 'kafkajs';
    const outcomes: string[] = [];
    for (const [cycle, kind] of schedule.entries()) {
      const restartedAt = Date.now();
      const extra = kind === 'random' ? {} : { TRIBUTARY_CRASH_AT: `${kind}:2` };
      const client = clientOf(cycle);
      const child = startCapturer(`cycle-${cycle}-${kind}-${client}`, name, client, extra);
      // Usually the restarted capturer must first catch up (after a named crash always);
      // sometimes it is killed while still starting or replaying, and the next cycle
      // verifies instead.
      const afterNamed = cycle > 0 && schedule[cycle - 1] !== 'random';
      const verify = kind === 'random' && (afterNamed || Math.random() < 0.75);
      if (verify) {
        // After the restart, everything committed before it arrives exactly once.
        await ledger.expectAll(
          load.committed.filter((event) => event.committedAt <= restartedAt),
          load.rolledBack,
          60_000,
        );
      }
      if (kind === 'random') {
        // Killed during live streaming after catch-up, or anywhere from startup (slot,
        // fencing, checkpoint read) through replay when not waiting for catch-up.
        await Promise.race([sleep(verify ? random(0, 1_500) : random(700, 3_000)), child.exited]);
        child.process.kill('SIGKILL');
      }
      const exit = await child.exited;
      expect(
        exit.signal,
        `cycle ${cycle} (${kind}) exited with ${exit.code}; logs in ${LOG_DIR}`,
      ).toBe('SIGKILL');
      if (kind !== 'random') {
        expect(child.lines.some((line) => line.includes(`crash point ${kind} #2`))).toBe(true);
        expect(child.lines.some((line) => line.includes(`"kafkaClient":"${client}"`))).toBe(true);
      }
      outcomes.push(`${kind}:${client}`);
    }
    expect(outcomes).toHaveLength(10 + EXTRA_RANDOM_KILLS);
    for (const client of KAFKA_CLIENTS) {
      for (const point of ['produce', 'after-commit', 'after-ack']) {
        expect(outcomes).toContain(`${point}:${client}`);
      }
    }

    await load.until(EVENTS);
    await load.stop();
    const final = startCapturer('final', name, 'platformatic');
    await ledger.expectAll(load.committed, load.rolledBack, 120_000);
    await sleep(500);
    ledger.update();
    expect(ledger.duplicates).toEqual([]);
    expect(load.committed.length).toBeGreaterThanOrEqual(EVENTS);
    expect(load.rolledBackTransactions).toBeGreaterThan(0);
    expect(load.multiAggregateTransactions).toBeGreaterThan(0);
    expect(reader.records.length).toBe(load.committed.length);
    assertOrder(reader.records, load.committed);

    // SIGTERM: the in-flight transaction finishes, the LSN is confirmed, exit code 0. The
    // killed capturers may have published everything already, so first make sure this one
    // is running (its signal handlers installed), not still starting.
    const runningBy = Date.now() + 60_000;
    while (!final.lines.some((line) => line.includes('loaded Kafka checkpoint'))) {
      if (Date.now() > runningBy)
        throw new Error(`final capturer never started; logs in ${LOG_DIR}`);
      await sleep(100);
    }
    final.process.kill('SIGTERM');
    const exit = await final.exited;
    expect(exit.code).toBe(0);
    expect(final.lines.some((line) => line.includes('drained'))).toBe(true);
    expect(final.lines.some((line) => line.includes('"kafkaClient":"platformatic"'))).toBe(true);
    await reader.stop();
  }, 480_000);

  it.each(KAFKA_CLIENTS)(
    'gives a paused zombie on %s not a single committed record after a standby took over, then makes it a standby',
    async (client) => {
      const name = env.name(`zombie_${client}`);
      await prepareSlot(name);
      // A pauses itself (SIGSTOP) in its 3rd Kafka transaction, after sending records and
      // before committing. Its walsender times out after 2 s without replies.
      const zombie = startCapturer(`zombie-a-${client}`, name, client, {
        TRIBUTARY_PAUSE_AT: 'produce:3',
        TRIBUTARY_WAL_SENDER_TIMEOUT_MS: '2000',
      });
      const waitForLine = async (child: Child, text: string): Promise<void> => {
        const deadline = Date.now() + 30_000;
        while (!child.lines.some((line) => line.includes(text))) {
          if (Date.now() > deadline) throw new Error(`no "${text}" line; logs in ${LOG_DIR}`);
          await sleep(50);
        }
      };
      await waitForLine(zombie, 'acquired replication slot');
      const standby = startCapturer(`zombie-b-${client}`, name, client);
      await waitForLine(standby, 'standby');
      // Only now the load: A reaches its pause point while B is certainly waiting.
      const load = new Load(database, `zombie-${client}`);
      loads.push(load);
      load.start(2, 2_000, 3_000);
      await load.until(3_000);
      await load.stop();
      const reader = await readTopics(env.kafkaBrokers, topicsOf(name));
      const ledger = new Ledger(reader);
      await ledger.expectAll(load.committed, load.rolledBack, 60_000);
      expect(standby.lines.some((line) => line.includes('standby'))).toBe(true);
      expect(zombie.lines.some((line) => line.includes('crash point produce #3: SIGSTOP'))).toBe(
        true,
      );

      // B took over and published everything; now the zombie wakes up and tries to commit.
      zombie.process.kill('SIGCONT');
      const deadline = Date.now() + 20_000;
      while (!zombie.lines.some((line) => line.includes('restarting from the Kafka checkpoint'))) {
        if (Date.now() > deadline) throw new Error(`zombie never noticed; logs in ${LOG_DIR}`);
        await sleep(100);
      }
      // More events, published by B alone.
      const more = new Load(database, `more-${client}`);
      more.start(1, 2_000, 200);
      await more.until(200);
      await more.stop();
      await ledger.expectAll([...load.committed, ...more.committed], load.rolledBack, 30_000);
      await sleep(1_000);
      ledger.update();
      expect(ledger.duplicates).toEqual([]);
      expect(reader.records.length).toBe(load.committed.length + more.committed.length);
      // The zombie's commit failed and it went back to waiting for the slot.
      const failure = zombie.lines.find((line) =>
        line.includes('restarting from the Kafka checkpoint'),
      );
      expect(failure).toMatch(/CAPTURE_FENCED|CAPTURE_KAFKA_INDETERMINATE|CAPTURE_STREAM_ENDED/);
      await reader.stop();
      zombie.process.kill('SIGKILL');
      standby.process.kill('SIGKILL');
      await Promise.all([zombie.exited, standby.exited]);
    },
    180_000,
  );
});
