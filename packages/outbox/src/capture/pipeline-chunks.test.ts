import { createInstrumentation, EventHeaders, silentLogger } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { captureDefaults, defaultRouterConfig, type CaptureBatchConfig } from './config.js';
import { isCaptureError } from './errors.js';
import type { CaptureEvents } from './events.js';
import { decodeCheckpoint, encodeCheckpoint } from './kafka/checkpoint.js';
import { CapturePipeline } from './pipeline.js';
import {
  CHECKPOINTS,
  FakeSource,
  InMemoryLogSink,
  row,
  setup,
  until,
} from './pipeline.test.support.js';
import { createOutboxRouter, type OutboxRow } from './router.js';
import type { SourceTransaction, SourceTransactionPart } from './source.js';

const chunked: Partial<CaptureBatchConfig> = {
  maxEvents: 3,
  chunkMaxEvents: 3,
  // Long: batches go when full, so their contents are deterministic.
  lingerMs: 50,
};

const part = (lsn: number, firstSequence: number, rows: OutboxRow[]): SourceTransactionPart => ({
  xid: lsn,
  commitLsn: BigInt(lsn),
  commitTimeMicros: 1_700_000_000_000_000n,
  firstSequence,
  rows,
});

const end = (lsn: number, firstSequence: number, rows: OutboxRow[]): SourceTransaction => ({
  ...part(lsn, firstSequence, rows),
  commitEndLsn: BigInt(lsn + 0x10),
});

/** Event id and tx_seq of every committed record of one topic/partition, in offset order. */
function committed(sink: InMemoryLogSink): { id: string; seq: string; lsn: string }[] {
  const out: { id: string; seq: string; lsn: string }[] = [];
  for (const topic of sink.log.listTopics().filter((name) => name !== CHECKPOINTS)) {
    for (const partition of sink.log.partitionsFor(topic)) {
      for (const record of sink.log.fetch(topic, partition, 0).records) {
        out.push({
          id: record.headers[EventHeaders.eventId] ?? '',
          seq: record.headers[EventHeaders.transactionSequence] ?? '',
          lsn: record.headers[EventHeaders.commitLsn] ?? '',
        });
      }
    }
  }
  return out;
}

describe('a source transaction larger than a chunk', () => {
  it('goes over several Kafka transactions, each with the position inside it, and is confirmed at its end only', async () => {
    const { sink, source, pipeline } = setup(chunked);
    await sink.connect();
    pipeline.begin(source, undefined);
    const rows = Array.from({ length: 8 }, (_, index) => row('a', index + 1));
    const next = row('a', 9);
    await pipeline.part(part(0x100, 0, rows.slice(0, 4)));
    await pipeline.part(part(0x100, 4, rows.slice(4, 7)));
    await pipeline.transaction(end(0x100, 7, rows.slice(7)));
    await pipeline.transaction(end(0x200, 0, [next]));
    await pipeline.drain();
    expect(sink.batches.map((batch) => batch.records.length)).toEqual([3, 3, 3]);
    expect(sink.batches.map((batch) => [batch.checkpoint, batch.checkpointSequence])).toEqual([
      [0x100n, 2],
      [0x100n, 5],
      [0x200n, undefined],
    ]);
    // Summaries only where a source transaction ends, with its full count.
    expect(sink.batches.map((batch) => batch.transactions.map((t) => t.eventCount))).toEqual([
      [],
      [],
      [8, 1],
    ]);
    // Nothing of 0x100 is confirmed before its end is in Kafka.
    expect(source.confirmations).toEqual([0x210n]);
    expect(committed(sink)).toEqual([
      ...rows.map((r, index) => ({ id: r['event_id'], seq: String(index), lsn: '0/100' })),
      { id: next['event_id'], seq: '0', lsn: '0/200' },
    ]);
    expect(
      decodeCheckpoint(String(sink.log.latestByKey(CHECKPOINTS).get('capture')?.value)),
    ).toMatchObject({ commitLsn: 0x200n, sequence: undefined });
  });

  it('resumes right after the last chunk in Kafka when the slot resends the whole transaction', async () => {
    const first = setup(chunked);
    await first.sink.connect();
    first.pipeline.begin(first.source, undefined);
    const rows = Array.from({ length: 8 }, (_, index) => row('a', index + 1));
    await first.pipeline.part(part(0x100, 0, rows.slice(0, 4)));
    await first.pipeline.part(part(0x100, 4, rows.slice(4, 7)));
    await until(() => first.sink.batches.length === 2);
    // The "crash": two chunks committed, the end never arrived, nothing confirmed.
    first.pipeline.dispose();
    expect(first.source.confirmations).toEqual([]);
    const sink = new InMemoryLogSink(first.log);
    await sink.connect();
    const checkpoint = await sink.readCheckpoint();
    expect(checkpoint).toMatchObject({ commitLsn: 0x100n, sequence: 5 });
    const source = new FakeSource();
    const pipeline = new CapturePipeline({
      sink,
      router: createOutboxRouter(defaultRouterConfig),
      batch: { ...captureDefaults.batch, ...chunked },
      onUnroutable: 'fatal',
      logger: silentLogger,
      instrumentation: createInstrumentation<CaptureEvents>(),
    });
    pipeline.begin(source, checkpoint?.commitLsn, checkpoint?.confirmedLsn, checkpoint?.sequence);
    // The slot sends the transaction again from its first row, cut differently.
    await pipeline.part(part(0x100, 0, rows.slice(0, 5)));
    await pipeline.transaction(end(0x100, 5, rows.slice(5)));
    await pipeline.drain();
    expect(committed(sink)).toEqual(
      rows.map((r, index) => ({ id: r['event_id'], seq: String(index), lsn: '0/100' })),
    );
    expect(sink.batches.map((batch) => batch.transactions.map((t) => t.eventCount))).toEqual([[8]]);
    expect(source.confirmations).toEqual([0x110n]);
    expect(await sink.readCheckpoint()).toMatchObject({ commitLsn: 0x100n, sequence: undefined });
  });

  it('skips every part of a transaction the checkpoint covers whole', async () => {
    const { sink, source, pipeline } = setup(chunked);
    await sink.connect();
    pipeline.begin(source, 0x100n);
    const rows = Array.from({ length: 5 }, (_, index) => row('a', index + 1));
    await pipeline.part(part(0x100, 0, rows.slice(0, 4)));
    await pipeline.transaction(end(0x100, 4, rows.slice(4)));
    await pipeline.drain();
    expect(committed(sink)).toEqual([]);
    expect(pipeline.skippedTransactions).toBe(1);
  });

  it('splits by chunk bytes too', async () => {
    const { sink, source, pipeline } = setup({
      chunkMaxBytes: 1_200,
      maxBytes: 1_200,
      lingerMs: 50,
    });
    await sink.connect();
    pipeline.begin(source, undefined);
    const rows = Array.from({ length: 6 }, (_, index) => row('a', index + 1));
    await pipeline.transaction(end(0x100, 0, rows));
    await pipeline.drain();
    expect(sink.batches.length).toBeGreaterThan(1);
    for (const batch of sink.batches) {
      expect(batch.records.reduce((sum, r) => sum + r.sizeBytes, 0)).toBeLessThanOrEqual(1_200);
    }
    expect(sink.batches.slice(0, -1).every((batch) => batch.checkpointSequence !== undefined)).toBe(
      true,
    );
    expect(sink.batches.at(-1)?.checkpointSequence).toBeUndefined();
    expect(committed(sink).map((record) => record.seq)).toEqual(['0', '1', '2', '3', '4', '5']);
  });
});

describe('the checkpoint record with a sequence', () => {
  it('round-trips the sequence and leaves it out when the transaction is whole', () => {
    const contents = { identity: undefined, slot: 's', partitions: new Map<string, number>() };
    expect(decodeCheckpoint(encodeCheckpoint(0x100n, { ...contents, sequence: 41 }))).toMatchObject(
      { commitLsn: 0x100n, sequence: 41 },
    );
    const whole = encodeCheckpoint(0x100n, contents);
    expect(JSON.parse(whole)).not.toHaveProperty('sequence');
    expect(decodeCheckpoint(whole).sequence).toBeUndefined();
  });

  it('refuses a sequence that is not a non-negative integer', () => {
    for (const sequence of [-1, 1.5, '3']) {
      const value = JSON.stringify({ version: 2, commitLsn: '0/100', slot: 's', sequence });
      let caught: unknown;
      try {
        decodeCheckpoint(value);
      } catch (error) {
        caught = error;
      }
      expect(isCaptureError(caught) && caught.code).toBe('CAPTURE_CHECKPOINT_INVALID');
    }
  });
});
