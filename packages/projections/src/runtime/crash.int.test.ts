import { createKafkajsClient } from '@tributary/kafkajs';
import { crashRunSize, useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isStopped,
  produceCounterEvents,
  sleep,
  startProjectionChild,
  type ProjectionChild,
} from '../test-support/counter-events.js';
import { typedRows } from '../internal/sql.js';
import { applicationReport, progress, waitUntil } from '../test-support/verify.js';

/*
 * Crash tests: projection runtimes run as child processes and are SIGKILLed at random
 * moments and at the named points of the batch cycle (after the handlers before COMMIT;
 * after COMMIT before the Kafka offset commit), while two processes share the partitions
 * and rebalance on every death. Afterwards every event must have been applied exactly
 * once, and per aggregate in version order.
 *
 * The two process slots run different Kafka clients (kafkajs and @platformatic/kafka), so
 * the group has a member of each throughout — as while a deployment switches clients by
 * rolling restart — and each client dies at every named point.
 *
 * `npm test` runs the short version (≥ 10 kills over 10,000 events, two zombies);
 * `npm run test:crash` the long one (≥ 20 kills over 20,000 events, four zombies).
 */

const env = await useIntegrationEnv({ label: 'proj_crash' });
const kafka = createKafkajsClient({ clientId: 'proj-crash', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 4 } });

afterAll(async () => {
  await knex.destroy();
});

async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics([{ topic, partitions, replicationFactor: 1 }]);
  await admin.disconnect();
}

/** The Kafka clients of the runtime children: process slot 0 runs the first, slot 1 the second. */
const KAFKA_CLIENTS = ['kafkajs', 'platformatic'] as const;
type KafkaClientName = (typeof KAFKA_CLIENTS)[number];

function childEnv(
  prefix: string,
  kafkaClient: KafkaClientName,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: env.databaseUrl,
    KAFKA_BROKERS: env.kafkaBrokers.join(','),
    TOPIC_PREFIX: `${env.topicPrefix}${prefix}`,
    GROUP_PREFIX: env.name(prefix),
    RUNTIME_SCHEMA: `${prefix}_rt`,
    READ_MODEL_SCHEMA: `${prefix}_rm`,
    SESSION_TIMEOUT_MS: '6000',
    MAX_BATCH_RECORDS: '100',
    TRIBUTARY_CRASH_AT: '',
    TRIBUTARY_PAUSE_AT: '',
    TRIBUTARY_KAFKA_CLIENT: kafkaClient,
    ...extra,
  };
}

/**
 * Kills to reach (the loop stops there), kills required, kills required at each named
 * point, and counters (100 events each).
 */
const RUN = crashRunSize({
  short: { target: 12, required: 10, namedEach: 2, counters: 100 },
  long: { target: 22, required: 20, namedEach: 3, counters: 200 },
});

/** Where a zombie freezes itself. */
type ZombiePoint = 'before-lock' | 'after-handlers';

const kills = (child: ProjectionChild): Promise<boolean> =>
  child.exited.then(({ signal }) => signal === 'SIGKILL');

describe('projection runtime under crashes (2 processes, one per Kafka client, real Kafka and PostgreSQL)', () => {
  it(`applies ${RUN.counters * 100} events exactly once and in version order through ≥ ${RUN.required} SIGKILLs at random and named points`, async () => {
    const prefix = 'crash';
    const topic = `${env.topicPrefix}${prefix}.Counter`;
    await createTopic(topic, 4);
    const counters = RUN.counters;
    const total = counters * 100;
    // Half before the processes start, half while they crash and rebalance.
    let produced = await produceCounterEvents(kafka, topic, {
      counters,
      versions: 50,
      transactionalId: env.name('crash-producer'),
    });
    const producing = produceCounterEvents(kafka, topic, {
      counters,
      versions: 50,
      fromVersion: 51,
      transactionSize: 100,
      transactionalId: env.name('crash-producer'),
      // Its transactions spread over ~2 minutes, so that a named start always finds batches to crash on:
      // produced at full speed, the events could all be applied before the named kills
      // were done, and a named start with nothing to apply never reaches its point (a CI
      // run ended its kill loop at the deadline with 1 of 2 after-commit kills).
      pauseMs: 120_000 / ((RUN.counters * 50) / 100),
    }).then((count) => {
      produced += count;
    });

    const namedPoints = ['after-handlers', 'after-commit'] as const;
    const tally = { random: 0, 'after-handlers': 0, 'after-commit': 0 };
    const namedByClient = new Set<string>();
    const slots: (ProjectionChild | undefined)[] = [undefined, undefined];
    const alive = (child: ProjectionChild | undefined): child is ProjectionChild =>
      child !== undefined && child.process.exitCode === null && child.process.signalCode === null;
    let restarts = 0;
    const deadline = Date.now() + 330_000;
    // Until the kill target is reached and each client died at each named point often
    // enough: on a loaded machine a named start may join the group too late to crash on
    // time, and is then killed at a random moment instead.
    const enough = (): boolean =>
      tally.random + tally['after-handlers'] + tally['after-commit'] >= RUN.target &&
      tally['after-handlers'] >= RUN.namedEach &&
      tally['after-commit'] >= RUN.namedEach &&
      namedByClient.size === 4;
    while (!enough() && Date.now() < deadline) {
      const slot = restarts % 2;
      const client = KAFKA_CLIENTS[slot] ?? 'kafkajs';
      const previous = slots[slot];
      if (alive(previous)) {
        // A random moment: whatever the process was doing (fetching, in a transaction,
        // committing, joining the group).
        previous.process.kill('SIGKILL');
        await previous.exited;
        tally.random += 1;
      }
      // Two starts in three crash themselves at a named point on their 1st–3rd batch; the
      // others are killed at a random moment on a later round.
      const point = restarts % 3 === 2 ? undefined : namedPoints[(restarts >> 1) % 2];
      const child = startProjectionChild(
        childEnv(
          prefix,
          client,
          point === undefined ? {} : { TRIBUTARY_CRASH_AT: `${point}@${1 + (restarts % 3)}` },
        ),
      );
      slots[slot] = child;
      restarts += 1;
      if (point === undefined) {
        await sleep(1_000 + Math.random() * 3_000);
      } else {
        // Joining the group may wait for a dead member's session to expire (6 s).
        const died = await Promise.race([kills(child), sleep(20_000).then(() => false)]);
        if (died) {
          tally[point] += 1;
          namedByClient.add(`${point}:${client}`);
        }
      }
    }
    await producing;
    for (const child of slots) {
      if (alive(child)) {
        child.process.kill('SIGKILL');
        await child.exited;
        tally.random += 1;
      }
    }
    const crashes = tally.random + tally['after-handlers'] + tally['after-commit'];
    expect(crashes).toBeGreaterThanOrEqual(RUN.required);
    expect(tally['after-handlers']).toBeGreaterThanOrEqual(RUN.namedEach);
    expect(tally['after-commit']).toBeGreaterThanOrEqual(RUN.namedEach);
    expect([...namedByClient].sort()).toEqual([
      'after-commit:kafkajs',
      'after-commit:platformatic',
      'after-handlers:kafkajs',
      'after-handlers:platformatic',
    ]);

    // Two clean processes finish the job and stop gracefully on SIGTERM.
    const finishers = KAFKA_CLIENTS.map((client) => startProjectionChild(childEnv(prefix, client)));
    await waitUntil(
      async () => (await applicationReport(knex, `${prefix}_rm`)).events === total,
      180_000,
      'the survivors to catch up',
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; stderr: ${finishers
          .flatMap((f) => f.stderr)
          .join('')
          .slice(-2_000)}`,
      );
    });
    // Idle means lag 0: the checkpoints cover the trailing transaction markers too.
    await waitUntil(
      async () => {
        const { stored, end } = await progress(knex, kafka, `${prefix}_rt`, topic);
        return stored === end;
      },
      30_000,
      'lag 0',
    );
    // With the short run the killed processes may have applied everything already, so the
    // waits above can end before the finishers have even installed their SIGTERM handler.
    await waitUntil(
      () =>
        Promise.resolve(
          finishers.every((finisher) => finisher.lines.some((line) => line.event === 'started')),
        ),
      60_000,
      'the finishers to start',
    );
    for (const finisher of finishers) finisher.process.kill('SIGTERM');
    const exits = await Promise.all(finishers.map((finisher) => finisher.exited));
    expect(exits.map((exit) => exit.code)).toEqual([0, 0]);

    expect(produced).toBe(total);

    const report = await applicationReport(knex, `${prefix}_rm`);
    expect(report).toEqual({ events: total, duplicates: 0, outOfOrder: [] });
    const totals = await typedRows<{ sum: string }>(
      knex(`${prefix}_rm.totals`).sum({ sum: 'total' }),
    );
    expect(Number(totals[0]?.sum)).toBe(total);
    process.stderr.write(
      `[crash test] ${crashes} SIGKILLs: ${JSON.stringify(tally)}, ${restarts} starts\n`,
    );
  }, 480_000);

  // Each point and each client once in the short run; every pair in the long one.
  const zombies = crashRunSize<readonly (readonly [ZombiePoint, KafkaClientName])[]>({
    short: [
      ['before-lock', 'kafkajs'],
      ['after-handlers', 'platformatic'],
    ],
    long: [
      ['before-lock', 'kafkajs'],
      ['after-handlers', 'kafkajs'],
      ['before-lock', 'platformatic'],
      ['after-handlers', 'platformatic'],
    ],
  });
  for (const [point, client] of zombies) {
    it(`a zombie on ${client} frozen ${point === 'before-lock' ? 'before locking its checkpoint' : 'inside its batch transaction'} past the session timeout applies nothing twice after it resumes`, async () => {
      const prefix = `zombie_${point.replace('-', '_')}_${client}`;
      const topic = `${env.topicPrefix}${prefix}.Counter`;
      await createTopic(topic, 2);
      const total = await produceCounterEvents(kafka, topic, {
        counters: 40,
        versions: 50,
        transactionalId: env.name(`${prefix}-producer`),
      });
      // The zombie freezes itself (SIGSTOP) at its 2nd batch; the partner takes its
      // partitions after the session timeout.
      // One batch in flight at a time, so that when it freezes before its lock, it holds none.
      const zombie = startProjectionChild(
        childEnv(prefix, client, {
          TRIBUTARY_PAUSE_AT: `${point}@2`,
          PARTITIONS_CONCURRENCY: '1',
        }),
      );
      await waitUntil(
        () => isStopped(zombie.process.pid ?? 0),
        60_000,
        'the zombie to freeze itself',
      ).catch((error: unknown) => {
        throw new Error(
          `${String(error)}: ${JSON.stringify(zombie.lines)} ${zombie.stderr.join('').slice(-3_000)}`,
        );
      });
      const partner = startProjectionChild(childEnv(prefix, client));
      await waitUntil(
        () =>
          Promise.resolve(
            partner.lines.some(
              (line) => line.event === 'assigned' && (line.partitions?.length ?? 0) === 2,
            ),
          ),
        60_000,
        'the partner to own both partitions',
      );
      if (point === 'before-lock') {
        // The partner applies everything, including the zombie's in-flight batch.
        await waitUntil(
          async () => (await applicationReport(knex, `${prefix}_rm`)).events === total,
          60_000,
          'the partner to catch up',
        );
      } else {
        // The zombie holds the checkpoint row lock: the partner waits on it, it cannot apply
        // the zombie's partition twice. Give it time to try.
        await sleep(3_000);
      }
      zombie.process.kill('SIGCONT');
      await waitUntil(
        async () => (await applicationReport(knex, `${prefix}_rm`)).events === total,
        60_000,
        'everything applied',
      );
      await sleep(2_000);
      for (const child of [zombie, partner]) child.process.kill('SIGTERM');
      await Promise.all([zombie.exited, partner.exited]);
      const report = await applicationReport(knex, `${prefix}_rm`);
      expect(report).toEqual({ events: total, duplicates: 0, outOfOrder: [] });
      if (point === 'before-lock') {
        // The resumed zombie found its batch below the checkpoint and skipped all of it.
        const zombieSkips = zombie.lines.filter(
          (line) => line.event === 'committed' && (line.skipped ?? 0) > 0,
        );
        expect(zombieSkips.length).toBeGreaterThanOrEqual(1);
      }
    }, 180_000);
  }
});
