/**
 * The slot must not pin WAL while the outbox is idle and other tables are busy: the
 * capturer confirms keepalives and heartbeats when nothing is in flight. Measured as
 * retained WAL bytes (`pg_current_wal_lsn() - restart_lsn`) next to an unconsumed control
 * slot created at the same moment, which shows what retention looks like without that.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../../event-store/postgres-event-store.js';
import { migrateOutbox } from '../../migrations.js';
import { createPostgresKafkaCapturer } from '../postgres-kafka-capturer.js';
import { resolveCaptureConfig } from '../config.js';

const env = await useIntegrationEnv({ label: 'wal bound' });
await migrateOutbox({ connectionString: env.databaseUrl });
const store = new PostgresEventStore({ connectionString: env.databaseUrl });
const client = new pg.Client({ connectionString: env.databaseUrl });
await client.connect();
afterAll(async () => {
  await store.close();
  await client.end();
});

interface Retention {
  readonly retainedBytes: number;
  readonly unconfirmedBytes: number;
}

async function retention(slot: string): Promise<Retention> {
  const { rows } = await client.query<{ retained: string; unconfirmed: string }>(
    `select (pg_current_wal_lsn() - restart_lsn)::text as retained,
            (pg_current_wal_lsn() - confirmed_flush_lsn)::text as unconfirmed
       from pg_replication_slots where slot_name = $1`,
    [slot],
  );
  const row = rows[0];
  if (row === undefined) throw new Error(`no slot ${slot}`);
  return { retainedBytes: Number(row.retained), unconfirmedBytes: Number(row.unconfirmed) };
}

const MiB = 1024 * 1024;

describe('retained WAL while the outbox is idle', () => {
  it('stays bounded while other tables write tens of MiB, unlike an unconsumed slot', async () => {
    const config = resolveCaptureConfig({
      name: env.name('wal'),
      databaseUrl: env.databaseUrl,
      kafka: { brokers: env.kafkaBrokers },
      router: { topicPrefix: env.topic('events') },
      topics: { checkpointTopic: env.topic('checkpoints') },
      heartbeatIntervalMs: 300,
      progressIntervalMs: 0,
    });
    const capturer = createPostgresKafkaCapturer({
      config,
      kafka: createKafkajsClient({ brokers: env.kafkaBrokers }),
    });
    let published = 0;
    capturer.instrumentation.on('capture.batch.committed', ({ events }) => {
      published += events;
    });
    const running = capturer.run();
    try {
      while (capturer.state !== 'streaming') {
        await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 20))]);
      }
      const control = env.name('control');
      await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [control]);
      // One event, so the capturer has published something before the outbox goes quiet.
      await store.appendToStream({ aggregateType: 'Account', aggregateId: 'a-1' }, [
        { type: 'Opened', data: {} },
      ]);
      while (published < 1) await new Promise((resolve) => setTimeout(resolve, 20));

      await client.query('create table noise (id bigserial primary key, filler text not null)');
      for (let round = 0; round < 6; round += 1) {
        await client.query(
          `insert into noise (filler) select repeat(md5(g::text), 32) from generate_series(1, 8000) g`,
        );
      }
      // A checkpoint logs the running transactions, from which the slot's restart_lsn may
      // advance once the client confirmed past them; repeat until it did (or give up).
      let ours = await retention(config.slot.name);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        await client.query('checkpoint');
        await new Promise((resolve) => setTimeout(resolve, 500));
        ours = await retention(config.slot.name);
        if (ours.retainedBytes < 4 * MiB && ours.unconfirmedBytes < 1 * MiB) break;
      }
      const theirs = await retention(control);
      process.stdout.write(
        `retained WAL: capturer slot ${(ours.retainedBytes / MiB).toFixed(2)} MiB (unconfirmed ${(ours.unconfirmedBytes / 1024).toFixed(1)} KiB), unconsumed control slot ${(theirs.retainedBytes / MiB).toFixed(1)} MiB\n`,
      );

      expect(theirs.retainedBytes).toBeGreaterThan(40 * MiB);
      expect(ours.unconfirmedBytes).toBeLessThan(1 * MiB);
      expect(ours.retainedBytes).toBeLessThan(4 * MiB);
      expect(published).toBe(1);
      await client.query('select pg_drop_replication_slot($1)', [control]);
    } finally {
      await capturer.stop();
    }
  }, 120_000);
});
