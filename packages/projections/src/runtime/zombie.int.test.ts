import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isStopped,
  produceCounterEvents,
  sleep,
  startProjectionChild,
} from '../test-support/counter-events.js';
import { applicationReport, waitUntil } from '../test-support/verify.js';

/*
 * A zombie that never wakes up: a projection process frozen for good (SIGSTOP, never
 * resumed) in the middle of a batch, holding its checkpoint row lock. The partition's new
 * owner must not wait for it forever: PostgreSQL ends the frozen session after the batch
 * transaction's idle timeout, which releases the lock.
 */

const env = await useIntegrationEnv({ label: 'proj_zombie' });
const kafka = createKafkajsClient({ clientId: 'proj-zombie', brokers: env.kafkaBrokers });
const knex = knexFactory({ client: 'pg', connection: env.databaseUrl, pool: { min: 0, max: 2 } });

afterAll(async () => {
  await knex.destroy();
});

const sessionTimeoutMs = 6_000;
const idleInTransactionTimeoutMs = 4_000;

describe('a projection process frozen for good inside its batch transaction', () => {
  it('does not stall its partitions: the new owner applies everything exactly once without it', async () => {
    const prefix = 'zombie_forever';
    const topic = `${env.topicPrefix}${prefix}.Counter`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics([{ topic, partitions: 2, replicationFactor: 1 }]);
    await admin.disconnect();
    const total = await produceCounterEvents(kafka, topic, {
      counters: 40,
      versions: 50,
      transactionalId: env.name(`${prefix}-producer`),
    });
    const childEnv = (extra: Record<string, string>): Record<string, string> => ({
      DATABASE_URL: env.databaseUrl,
      KAFKA_BROKERS: env.kafkaBrokers.join(','),
      TOPIC_PREFIX: `${env.topicPrefix}${prefix}`,
      GROUP_PREFIX: env.name(prefix),
      RUNTIME_SCHEMA: `${prefix}_rt`,
      READ_MODEL_SCHEMA: `${prefix}_rm`,
      SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
      IDLE_IN_TRANSACTION_TIMEOUT_MS: String(idleInTransactionTimeoutMs),
      MAX_BATCH_RECORDS: '100',
      TRIBUTARY_CRASH_AT: '',
      TRIBUTARY_PAUSE_AT: '',
      ...extra,
    });
    // Frozen at its 2nd batch, after the handlers and before COMMIT: it holds the
    // checkpoint row lock of that partition, and is never resumed.
    const zombie = startProjectionChild(
      childEnv({ TRIBUTARY_PAUSE_AT: 'after-handlers@2', PARTITIONS_CONCURRENCY: '1' }),
    );
    try {
      await waitUntil(
        () => isStopped(zombie.process.pid ?? 0),
        60_000,
        'the zombie to freeze itself',
      );
      const frozenAt = performance.now();
      const frozenAtEpoch = Date.now();
      const partner = startProjectionChild(childEnv({}));
      try {
        // Bounded: the session timeout (the group hands the partitions over), the idle
        // timeout (the server ends the frozen session), a retry, and a loaded machine.
        await waitUntil(
          async () => (await applicationReport(knex, `${prefix}_rm`)).events === total,
          60_000,
          'the new owner to apply everything while the zombie stays frozen',
        ).catch((error: unknown) => {
          throw new Error(`${String(error)}: ${partner.stderr.join('').slice(-2_000)}`);
        });
        const caughtUpMs = performance.now() - frozenAt;
        const timeline = partner.lines
          .filter((line) => line.event !== 'committed' || (line.applied ?? 0) > 0)
          .slice(0, 12)
          .map(
            (line) =>
              `${(((line.at ?? frozenAtEpoch) - frozenAtEpoch) / 1_000).toFixed(1)}s ${line.event}${line.partition === undefined ? '' : ` p${line.partition}`}${line.partitions === undefined ? '' : ` [${line.partitions.join(',')}]`}`,
          );
        process.stderr.write(`[zombie] partner timeline: ${timeline.join('; ')}\n`);
        expect(await isStopped(zombie.process.pid ?? 0)).toBe(true);
        const report = await applicationReport(knex, `${prefix}_rm`);
        expect(report).toEqual({ events: total, duplicates: 0, outOfOrder: [] });
        process.stderr.write(
          `[zombie] frozen for good; the new owner applied all ${total} events ` +
            `${(caughtUpMs / 1_000).toFixed(1)} s after the freeze (session timeout ` +
            `${sessionTimeoutMs / 1_000} s, idle-in-transaction timeout ${idleInTransactionTimeoutMs / 1_000} s)\n`,
        );
      } finally {
        partner.process.kill('SIGTERM');
        // A partner stuck on the zombie's lock would never finish its batch: do not hang.
        const exited = await Promise.race([partner.exited.then(() => true), sleep(15_000)]);
        if (exited !== true) {
          partner.process.kill('SIGKILL');
          await partner.exited;
        }
      }
    } finally {
      zombie.process.kill('SIGKILL');
      await zombie.exited;
    }
    // Its death changes nothing: its batch was never committed.
    expect(await applicationReport(knex, `${prefix}_rm`)).toEqual({
      events: total,
      duplicates: 0,
      outOfOrder: [],
    });
  }, 180_000);
});
