/**
 * A reactor process is SIGKILLed again and again — at random moments and at the named
 * points of its batch cycle (after its commands ran, before COMMIT; after COMMIT, before
 * the Kafka offset commit) — while events keep arriving. Afterwards every consumed event
 * must have caused exactly one command's event in the outbox: none lost, none repeated,
 * each with its causation.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { migrateOutbox } from '@tributary/outbox';
import { produceCounterEvents, useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { sleep, startChild, type Child } from './test-support/child.js';

const env = await useIntegrationEnv({ label: 'reactor_crash' });
const kafka = createKafkajsClient({ clientId: 'reactor-crash', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 4 } });
await migrateOutbox({ knex });
afterAll(async () => {
  await knex.destroy();
});

const prefix = 'rcrash';
const topic = `${env.topicPrefix}${prefix}.Counter`;

/**
 * Each start joins a consumer group of its own: partitions are assigned at once instead of
 * after the dead member's session times out (6 s per kill), and nothing is lost by it —
 * the reactor's checkpoint is in PostgreSQL, which the new process seeks to. (Two live
 * members sharing a group, and zombies, are the projection crash suite's subject.)
 */
const childEnv = (start: number, crashAt = ''): Record<string, string> => ({
  DATABASE_URL: env.databaseUrl,
  KAFKA_BROKERS: env.kafkaBrokers.join(','),
  TOPIC_PREFIX: `${env.topicPrefix}${prefix}`,
  GROUP_PREFIX: env.name(`g${start}`),
  TRIBUTARY_CRASH_AT: crashAt,
  TRIBUTARY_PAUSE_AT: '',
});

const alive = (child: Child): boolean =>
  child.process.exitCode === null && child.process.signalCode === null;

describe('a reactor under SIGKILL (real Kafka and PostgreSQL)', () => {
  it('executes exactly one command per consumed event through ≥ 6 kills at random and named points', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 3, replicationFactor: 1 }]);
    await admin.disconnect();

    // Events keep arriving while the process dies: waves of 10 counters × 5 versions.
    let produced = 0;
    let producing = true;
    const producer = (async () => {
      for (let wave = 0; producing && wave < 8; wave += 1) {
        produced += await produceCounterEvents(kafka, topic, {
          counters: 10,
          versions: 5,
          fromVersion: wave * 5 + 1,
          transactionSize: 50,
          transactionalId: env.name('producer'),
        });
        await sleep(1_000);
      }
    })();

    const kills = { random: 0, 'after-handlers': 0, 'after-commit': 0 };
    const stderr: string[] = [];
    for (let start = 0; start < 7; start += 1) {
      const points = ['random', 'after-handlers', 'after-commit'] as const;
      const point = points[start % 3] ?? 'random';
      const child = startChild(
        'reactor-child.ts',
        childEnv(start, point === 'random' ? '' : `${point}@${1 + (start % 2)}`),
      );
      if (point === 'random') {
        // Whatever it is doing once started: joining, fetching, in a transaction, committing.
        const started = async (): Promise<void> => {
          while (alive(child) && !child.lines.some((line) => line.event === 'started')) {
            await sleep(50);
          }
        };
        await Promise.race([started(), sleep(20_000)]);
        await sleep(Math.random() * 1_500);
        if (alive(child)) child.process.kill('SIGKILL');
      } else {
        const crashed = await Promise.race([child.exited, sleep(15_000).then(() => undefined)]);
        if (crashed === undefined) child.process.kill('SIGKILL');
      }
      const { signal } = await child.exited;
      stderr.push(...child.stderr);
      if (signal === 'SIGKILL') kills[point] += 1;
    }
    producing = false;
    await producer;
    expect(kills.random + kills['after-handlers'] + kills['after-commit']).toBeGreaterThanOrEqual(
      6,
    );
    expect(kills['after-handlers']).toBeGreaterThanOrEqual(1);
    expect(kills['after-commit']).toBeGreaterThanOrEqual(1);

    // A clean process finishes the work and stops on SIGTERM.
    const finisher = startChild('reactor-child.ts', childEnv(99));
    const acknowledged = async (): Promise<number> =>
      Number(
        (
          await knex.raw<{ rows: { n: number }[] }>(
            `select count(*)::int as n from tributary.events where event_type = 'Acknowledged'`,
          )
        ).rows[0]?.n,
      );
    const deadline = Date.now() + 90_000;
    // SIGTERM before its handler is installed would kill it outright (no exit code), and the
    // killed processes may already have done all the work: wait until it runs.
    while (alive(finisher) && !finisher.lines.some((line) => line.event === 'started')) {
      if (Date.now() > deadline) throw new Error('the finishing reactor process never started');
      await sleep(50);
    }
    while ((await acknowledged()) < produced && Date.now() < deadline) await sleep(200);
    finisher.process.kill('SIGTERM');
    expect((await finisher.exited).code, finisher.stderr.join('').slice(-2_000)).toBe(0);

    const rows = (
      await knex.raw<{
        rows: { source: string; cause: string | null; causation: string; n: number }[];
      }>(
        `select payload->>'sourceEventId' as source, metadata->>'commandCausationId' as cause,
                metadata->>'causationId' as causation, count(*) over (partition by payload->>'sourceEventId')::int as n
           from tributary.events where event_type = 'Acknowledged'`,
      )
    ).rows;
    // None lost (one per produced event), none repeated (each source exactly once).
    expect(
      rows.length,
      `finisher: ${finisher.lines.filter((l) => l.event === 'committed').length} batches; ${finisher.stderr.join('').slice(-3_000)}`,
    ).toBe(produced);
    expect(rows.filter((row) => row.n !== 1)).toEqual([]);
    expect(rows.filter((row) => row.cause !== row.source)).toEqual([]);
    expect(rows.filter((row) => row.causation !== `acknowledger:${row.source}:c0`)).toEqual([]);
  }, 240_000);
});
