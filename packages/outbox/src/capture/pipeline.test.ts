import { createInstrumentation, EventHeaders, silentLogger } from '@tributary/core';
import { InMemoryKafkaLog } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { captureDefaults, defaultRouterConfig } from './config.js';
import { isCaptureError } from './errors.js';
import type { CaptureEvents } from './events.js';
import { CapturePipeline } from './pipeline.js';
import {
  CHECKPOINTS,
  FakeSource,
  InMemoryLogSink,
  row,
  setup,
  tx,
  until,
} from './pipeline.test.support.js';
import { createOutboxRouter } from './router.js';

describe('the capture pipeline', () => {
  it('confirms a batch position only after the Kafka commit', async () => {
    const { sink, source, pipeline } = setup();
    await sink.connect();
    pipeline.begin(source, undefined);
    sink.hold();
    await pipeline.transaction(tx(0x100, [row('a', 1)]));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Linger is over and the records are sent, but the commit is held: nothing confirmed.
    expect(source.confirmations).toEqual([]);
    expect(sink.committedEventIds()).toEqual([]);
    sink.release();
    await until(() => source.confirmations.length === 1);
    expect(source.confirmations).toEqual([0x110n]);
    expect(sink.committedEventIds()).toHaveLength(1);
  });

  it('puts several whole source transactions into one Kafka transaction, bounded by maxEvents', async () => {
    const { sink, source, pipeline } = setup({ maxEvents: 4, lingerMs: 50 });
    await sink.connect();
    pipeline.begin(source, undefined);
    await pipeline.transaction(tx(0x100, [row('a', 1), row('a', 2)]));
    await pipeline.transaction(tx(0x200, [row('b', 1), row('c', 1)]));
    await pipeline.transaction(tx(0x300, [row('d', 1)]));
    await pipeline.drain();
    expect(sink.batches.map((batch) => batch.records.length)).toEqual([4, 1]);
    expect(sink.batches.map((batch) => batch.checkpoint)).toEqual([0x200n, 0x300n]);
    expect(source.confirmations).toEqual([0x210n, 0x310n]);
  });

  it('keeps a source transaction within the chunk limits whole, even one larger than maxEvents', async () => {
    const { sink, source, pipeline } = setup({ maxEvents: 2 });
    await sink.connect();
    pipeline.begin(source, undefined);
    await pipeline.transaction(tx(0x100, [row('a', 1)]));
    await pipeline.transaction(tx(0x200, [row('b', 1), row('b', 2), row('b', 3)]));
    await pipeline.drain();
    expect(sink.batches.map((batch) => batch.records.length)).toEqual([1, 3]);
  });

  it('bounds a batch by bytes', async () => {
    const { sink, source, pipeline } = setup({ maxBytes: 900 });
    await sink.connect();
    pipeline.begin(source, undefined);
    for (let index = 1; index <= 4; index += 1) {
      await pipeline.transaction(tx(0x100 * index, [row('a', index)]));
    }
    await pipeline.drain();
    expect(sink.batches.length).toBeGreaterThan(1);
    for (const batch of sink.batches) {
      const bytes = batch.records.reduce((sum, record) => sum + record.sizeBytes, 0);
      expect(batch.records.length === 1 || bytes <= 900).toBe(true);
    }
  });

  it('applies back-pressure: a transaction that does not fit waits for the batch in flight', async () => {
    const { sink, source, pipeline } = setup({ maxEvents: 2 });
    await sink.connect();
    pipeline.begin(source, undefined);
    sink.hold();
    await pipeline.transaction(tx(0x100, [row('a', 1), row('a', 2)])); // full: publishing, held
    await pipeline.transaction(tx(0x200, [row('b', 1), row('b', 2)])); // fills the next batch
    let accepted = false;
    const third = pipeline.transaction(tx(0x300, [row('c', 1)])).then(() => {
      accepted = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(accepted).toBe(false);
    sink.release();
    await third;
    expect(accepted).toBe(true);
    await pipeline.drain();
    expect(sink.batches.map((batch) => batch.checkpoint)).toEqual([0x100n, 0x200n, 0x300n]);
  });

  it('skips transactions at or below the checkpoint (as 64-bit numbers) and confirms their position once a checkpoint records it', async () => {
    const { sink, source, pipeline, instrumentation } = setup();
    const skipped: string[] = [];
    instrumentation.on('capture.transaction.skipped', ({ commitLsn }) => skipped.push(commitLsn));
    await sink.connect();
    // 0x1_0000_0000 > 0xFFFF_FFFF although '1/0' < 'F/...' is not how strings would order.
    pipeline.begin(source, 0x1_0000_0000n);
    await pipeline.transaction(tx(0xffff_fff0, [row('a', 1)]));
    await pipeline.transaction(tx(0x1_0000_0000, [row('a', 2)]));
    await pipeline.transaction(tx(0x1_0000_0100, [row('a', 3)]));
    await pipeline.drain();
    expect(skipped).toEqual(['0/FFFFFFF0', '1/0']);
    expect(sink.batches.flatMap((batch) => batch.records.map((record) => record.key))).toEqual([
      'a',
    ]);
    expect(source.confirmations).toEqual([0x1_0000_0110n]);
    expect(sink.batches.at(-1)?.confirmedLsn).toBe(0x1_0000_0110n);
  });

  it('republishes nothing after a restart whose predecessor committed but never confirmed', async () => {
    const first = setup();
    await first.sink.connect();
    first.pipeline.begin(first.source, undefined);
    await first.pipeline.transaction(tx(0x100, [row('a', 1)]));
    await first.pipeline.drain();
    // The "crash": the confirmation never reached PostgreSQL, so the slot resends 0x100.
    const sink = new InMemoryLogSink(first.log);
    await sink.connect();
    const source = new FakeSource();
    const pipeline = new CapturePipeline({
      sink,
      router: createOutboxRouter(defaultRouterConfig),
      batch: { ...captureDefaults.batch, lingerMs: 1 },
      onUnroutable: 'fatal',
      logger: silentLogger,
      instrumentation: createInstrumentation<CaptureEvents>(),
    });
    pipeline.begin(source, (await sink.readCheckpoint())?.commitLsn);
    await pipeline.transaction(tx(0x100, [row('a', 1)]));
    await pipeline.transaction(tx(0x200, [row('a', 2)]));
    await pipeline.drain();
    expect(sink.committedEventIds()).toHaveLength(2);
    expect((await sink.readCheckpoint())?.commitLsn).toBe(0x200n);
  });

  it('fails on a publish error, confirms nothing of it, and refuses further transactions', async () => {
    const { sink, source, pipeline } = setup();
    await sink.connect();
    pipeline.begin(source, undefined);
    sink.failNext = new Error('broker went away');
    await pipeline.transaction(tx(0x100, [row('a', 1)]));
    await expect(pipeline.failed).rejects.toThrow('broker went away');
    expect(source.confirmations).toEqual([]);
    await expect(pipeline.transaction(tx(0x200, [row('a', 2)]))).rejects.toThrow(
      'broker went away',
    );
    expect(sink.committedEventIds()).toEqual([]);
  });

  it('records a quiet position in a checkpoint-only Kafka transaction before confirming it, and confirms recorded ones at once', async () => {
    const { sink, source, pipeline } = setup({ quietLingerMs: 1 });
    await sink.connect();
    pipeline.begin(source, undefined);
    pipeline.quietPosition(0x50n);
    expect(source.confirmations).toEqual([]);
    await until(() => source.confirmations.length === 1);
    expect(source.confirmations).toEqual([0x50n]);
    expect(sink.batches.at(-1)).toMatchObject({ records: [], checkpoint: 0n, confirmedLsn: 0x50n });
    pipeline.quietPosition(0x40n); // already recorded: no Kafka transaction
    expect(source.confirmations).toEqual([0x50n, 0x40n]);
    sink.hold();
    await pipeline.transaction(tx(0x100, [row('a', 1)]));
    await new Promise((resolve) => setTimeout(resolve, 10));
    pipeline.quietPosition(0x500n); // arrives while 0x100 is in flight
    expect(source.confirmations).toEqual([0x50n, 0x40n]);
    sink.release();
    await until(() => source.confirmations.length === 4);
    expect(source.confirmations).toEqual([0x50n, 0x40n, 0x110n, 0x500n]);
    // The checkpoint-only transaction keeps the checkpoint in force.
    expect(sink.batches.at(-1)).toMatchObject({ checkpoint: 0x100n, confirmedLsn: 0x500n });
  });

  it('never confirms past a transaction it left unpublished while stopping', async () => {
    const { sink, source, pipeline } = setup();
    await sink.connect();
    pipeline.begin(source, undefined);
    await pipeline.transaction(tx(0x100, [row('a', 1)]));
    const drained = pipeline.drain();
    // Arrives after the stop began: not published, so nothing at or after it may be confirmed.
    await pipeline.transaction(tx(0x200, [row('a', 2)]));
    pipeline.quietPosition(0x300n);
    await drained;
    pipeline.quietPosition(0x400n);
    expect(sink.batches.map((batch) => batch.checkpoint)).toEqual([0x100n]);
    expect(source.confirmations).toEqual([0x110n]);
  });

  it('halts on an unroutable row under the fatal policy and skips it under warn', async () => {
    const fatal = setup();
    await fatal.sink.connect();
    fatal.pipeline.begin(fatal.source, undefined);
    const bad = { ...row('x', 1), aggregate_type: 'no spaces allowed' };
    const error: unknown = await fatal.pipeline
      .transaction(tx(0x100, [bad]))
      .catch((e: unknown) => e);
    expect(isCaptureError(error, 'CAPTURE_UNROUTABLE_EVENT')).toBe(true);
    expect(fatal.source.confirmations).toEqual([]);

    const warnings: string[] = [];
    const warn = setup(
      {},
      {
        onUnroutable: 'warn',
        logger: { ...silentLogger, warn: (message) => warnings.push(message) },
      },
    );
    await warn.sink.connect();
    warn.pipeline.begin(warn.source, undefined);
    await warn.pipeline.transaction(tx(0x100, [bad, row('y', 1)]));
    await warn.pipeline.drain();
    expect(warnings).toEqual(['skipping unroutable outbox row']);
    expect(warn.sink.batches.flatMap((batch) => batch.records.map((record) => record.key))).toEqual(
      ['y'],
    );
  });

  it('encodes payloads with a payload encoder, and fails (publishing nothing) when it fails', async () => {
    const log = new InMemoryKafkaLog();
    log.createTopic(CHECKPOINTS, { partitions: 1, cleanupPolicy: 'compact' });
    const sink = new InMemoryLogSink(log);
    await sink.connect();
    const source = new FakeSource();
    const seen: string[] = [];
    const pipeline = new CapturePipeline({
      sink,
      router: createOutboxRouter(defaultRouterConfig),
      batch: { ...captureDefaults.batch, lingerMs: 1 },
      onUnroutable: 'fatal',
      logger: silentLogger,
      instrumentation: createInstrumentation<CaptureEvents>(),
      payloadEncoder: {
        encode(topic, envelope) {
          seen.push(`${topic}:${envelope.aggregateId}:${JSON.stringify(envelope.payload)}`);
          return Promise.resolve({
            value: Buffer.from([0, 0, 0, 0, 7]),
            contentType: 'application/vnd.schemaregistry',
          });
        },
      },
    });
    pipeline.begin(source, undefined);
    await pipeline.transaction(tx(0x100, [{ ...row('a', 1), payload: '{"amount": 5}' }]));
    await pipeline.drain().catch(() => undefined);
    expect(seen).toEqual(['events.Account:a:{"amount":5}']);
    const [record] = sink.batches[0]?.records ?? [];
    expect([...(record?.value ?? [])]).toEqual([0, 0, 0, 0, 7]);
    expect(record?.headers[EventHeaders.contentType]).toBe('application/vnd.schemaregistry');

    const second = setup();
    await second.sink.connect();
    const failing = new CapturePipeline({
      sink: second.sink,
      router: createOutboxRouter(defaultRouterConfig),
      batch: captureDefaults.batch,
      onUnroutable: 'fatal',
      logger: silentLogger,
      instrumentation: createInstrumentation<CaptureEvents>(),
      payloadEncoder: { encode: () => Promise.reject(new Error('registry down')) },
    });
    failing.begin(second.source, undefined);
    await expect(failing.transaction(tx(0x200, [row('b', 1)]))).rejects.toThrow('registry down');
    await expect(failing.failed).rejects.toThrow('registry down');
    expect(second.source.confirmations).toEqual([]);
    expect(second.sink.batches).toEqual([]);
  });

  it('waits for begin() before handling deliveries', async () => {
    const { sink, source, pipeline } = setup();
    await sink.connect();
    let handled = false;
    const delivery = pipeline.transaction(tx(0x100, [row('a', 1)])).then(() => {
      handled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(handled).toBe(false);
    pipeline.begin(source, undefined);
    await delivery;
    await pipeline.drain();
    expect(sink.batches).toHaveLength(1);
  });
});
