/**
 * One source transaction far larger than a chunk, on the real stack: captured exactly once
 * and in order over several Kafka transactions, and again while the capturer is SIGKILLed
 * several times in the middle of it (named crash points and random kills), resuming each
 * time right after the last chunk in Kafka. The million-event run with its RSS figure is
 * `npm run test:big-transaction` (big-transaction-main.test.support.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateOutbox } from '../migrations.js';
import {
  BIG_TYPE,
  prepareSlot,
  readBigTransaction,
  startCaptureChild,
  writeBigTransaction,
  type CaptureChild,
  type CaptureChildTarget,
} from './big-transaction.test.support.js';
import { readTopics } from './kafka/kafka-reader.test.support.js';
import { random, sleep } from './crash.test.support.js';

const env = await useIntegrationEnv({ label: 'bigtx' });
await migrateOutbox({ connectionString: env.databaseUrl });
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 4 });
const children = new Set<CaptureChild>();
afterAll(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await pool.end();
});

const EVENTS = 20_000;
const LOG_DIR = mkdtempSync(join(tmpdir(), 'tributary-bigtx-'));

const targetOf = (name: string): CaptureChildTarget => ({
  databaseUrl: env.databaseUrl,
  kafkaBrokers: env.kafkaBrokers,
  name,
  topicPrefix: env.topic(name),
  checkpointTopic: env.topic('checkpoints'),
  logDir: LOG_DIR,
});

function start(name: string, label: string, extra: Record<string, string>): CaptureChild {
  const child = startCaptureChild(targetOf(name), label, extra);
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

const confirmedFlush = async (name: string): Promise<string> =>
  (
    await pool.query<{ lsn: string }>(
      'select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1',
      [`tributary_${name}`],
    )
  ).rows[0]?.lsn ?? 'none';

describe('a source transaction larger than a chunk', () => {
  it(`captures ${EVENTS} events of one source transaction exactly once and in order, over many Kafka transactions`, async () => {
    const name = env.name('whole');
    await prepareSlot(pool, name);
    await writeBigTransaction(pool, { events: EVENTS, aggregates: 100, prefix: 'whole-' });
    const child = start(name, 'whole', {
      TRIBUTARY_CHUNK_MAX_EVENTS: '1000',
      TRIBUTARY_BATCH_MAX_EVENTS: '1000',
    });
    const reader = await readBigTransaction(
      env.kafkaBrokers,
      env.topic(`${name}.${BIG_TYPE}`),
      EVENTS,
    );
    await reader.waitFor((tally) => tally.distinct === EVENTS, 120_000);
    await sleep(500);
    expect(reader.tally()).toEqual({
      records: EVENTS,
      distinct: EVENTS,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      commitLsns: 1,
    });
    // It went in chunks: checkpoints inside the transaction, then one at its end.
    const checkpoints = await readTopics(env.kafkaBrokers, [env.topic('checkpoints')]);
    await checkpoints.waitFor(
      (records) =>
        records.some((record) => record.key === name && !record.value.includes('"sequence"')),
      30_000,
    );
    const mine = checkpoints.records.filter((record) => record.key === name);
    const sequences = mine
      .map((record) => (JSON.parse(record.value) as { sequence?: number }).sequence)
      .filter((sequence) => sequence !== undefined);
    expect(sequences.length).toBeGreaterThanOrEqual(EVENTS / 1000 - 1);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    await checkpoints.stop();
    child.process.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    await reader.stop();
  }, 240_000);

  it('resumes exactly after the last chunk in Kafka when SIGKILLed several times in the middle of it', async () => {
    const name = env.name('crash');
    await prepareSlot(pool, name);
    const before = await confirmedFlush(name);
    await writeBigTransaction(pool, { events: EVENTS, aggregates: 100, prefix: 'crash-' });
    const chunked = { TRIBUTARY_CHUNK_MAX_EVENTS: '250', TRIBUTARY_BATCH_MAX_EVENTS: '250' };
    const topic = env.topic(`${name}.${BIG_TYPE}`);
    let reader: Awaited<ReturnType<typeof readBigTransaction>> | undefined;
    const kills: { kind: string; distinct: number }[] = [];
    // Three kills: a child start costs seconds (tsx), and CI time is scarce.
    for (const kind of ['produce:5', 'random', 'after-commit:4']) {
      const startedWith = reader?.tally().distinct ?? 0;
      const child = start(name, `crash-${kills.length}-${kind}`, {
        ...chunked,
        ...(kind === 'random' ? {} : { TRIBUTARY_CRASH_AT: kind }),
      });
      reader ??= await readBigTransaction(env.kafkaBrokers, topic, EVENTS);
      if (kind === 'random') {
        // Killed once it published more chunks of the transaction, at a random moment.
        await reader.waitFor((tally) => tally.distinct >= startedWith + 500, 120_000);
        await sleep(random(0, 100));
        child.process.kill('SIGKILL');
      }
      const exit = await child.exited;
      expect(exit.signal, `${kind}: logs in ${LOG_DIR}`).toBe('SIGKILL');
      await sleep(1_000);
      const tally = reader.tally();
      kills.push({ kind, distinct: tally.distinct });
      // In the middle: part of the transaction is in Kafka, once and in order; the slot
      // was not confirmed past any of it.
      expect(tally.distinct, kind).toBeGreaterThan(startedWith);
      expect(tally.distinct, kind).toBeLessThan(EVENTS);
      expect(tally.duplicated, kind).toBe(0);
      expect(tally.outOfOrder, kind).toBe(0);
      expect(await confirmedFlush(name), kind).toBe(before);
    }
    expect(kills).toHaveLength(3);
    const final = start(name, 'crash-final', chunked);
    const verifier = reader as NonNullable<typeof reader>;
    await verifier.waitFor((tally) => tally.distinct === EVENTS, 120_000);
    await sleep(1_000);
    expect(verifier.tally()).toEqual({
      records: EVENTS,
      distinct: EVENTS,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      commitLsns: 1,
    });
    final.process.kill('SIGTERM');
    expect((await final.exited).code).toBe(0);
    // Only now, with all of it in Kafka, did the slot move.
    expect(await confirmedFlush(name)).not.toBe(before);
    await verifier.stop();
  }, 300_000);
});
