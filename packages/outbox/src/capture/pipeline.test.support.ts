/**
 * Test doubles of the capture pipeline's unit tests: a CaptureSink on the in-memory
 * Kafka-like log (with a gate to hold commits), a change stream that records its
 * confirmations, and builders of outbox rows and source transactions.
 */
import { createInstrumentation, EventHeaders, type Logger, silentLogger } from '@tributary/core';
import { InMemoryKafkaLog, type InMemoryProducer } from '@tributary/testing';
import { expect } from 'vitest';
import { captureDefaults, defaultRouterConfig, type CaptureBatchConfig } from './config.js';
import type { CaptureEvents } from './events.js';
import { decodeCheckpoint, encodeCheckpoint } from './kafka/checkpoint.js';
import { CapturePipeline } from './pipeline.js';
import { createOutboxRouter, type OutboxRow } from './router.js';
import type { CaptureCheckpoint, CaptureSink, PublishBatch } from './sink.js';
import type { SourceIdentity } from './source.js';
import type { ChangeStream, SourceTransaction } from './source.js';

/** The in-memory checkpoint topic. */
export const CHECKPOINTS = 'checkpoints';

/** A CaptureSink on the in-memory Kafka-like log, with a gate to hold commits. */
export class InMemoryLogSink implements CaptureSink {
  readonly batches: PublishBatch[] = [];
  #producer: InMemoryProducer | undefined;
  #identity: SourceIdentity | undefined;
  #gate: Promise<void> | undefined;
  #open: () => void = () => undefined;
  failNext: Error | undefined;

  readonly checkpointLocation = CHECKPOINTS;

  constructor(readonly log: InMemoryKafkaLog) {}

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#gate = undefined;
    this.#open();
  }

  async connect(identity?: SourceIdentity): Promise<void> {
    this.#identity = identity;
    this.#producer = this.log.producer({ transactionalId: 'capture' });
    await this.#producer.connect();
  }

  readCheckpoint(): Promise<CaptureCheckpoint | undefined> {
    const record = this.log.latestByKey(CHECKPOINTS).get('capture');
    return Promise.resolve(
      record === undefined ? undefined : decodeCheckpoint(String(record.value)),
    );
  }

  async publish(batch: PublishBatch): Promise<void> {
    const producer = this.#producer;
    if (producer === undefined) throw new Error('not connected');
    const transaction = await producer.transaction();
    for (const record of batch.records) {
      if (!this.log.listTopics().includes(record.topic)) {
        this.log.createTopic(record.topic, { partitions: 2 });
      }
      await transaction.send({
        topic: record.topic,
        messages: [{ key: record.key, value: record.value, headers: record.headers }],
      });
    }
    await transaction.send({
      topic: CHECKPOINTS,
      messages: [
        {
          key: 'capture',
          value: encodeCheckpoint(batch.checkpoint, {
            identity: this.#identity,
            slot: 'slot_x',
            partitions: new Map(),
            confirmedLsn: batch.confirmedLsn,
            sequence: batch.checkpointSequence,
          }),
        },
      ],
    });
    await this.#gate;
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      await transaction.abort();
      throw error;
    }
    await transaction.commit();
    this.batches.push(batch);
  }

  close(): Promise<void> {
    return this.#producer?.disconnect() ?? Promise.resolve();
  }

  /** Event ids visible to read_committed readers, in offset order per topic. */
  committedEventIds(): string[] {
    const ids: string[] = [];
    for (const topic of this.log.listTopics().filter((name) => name !== CHECKPOINTS)) {
      for (const partition of this.log.partitionsFor(topic)) {
        for (const record of this.log.fetch(topic, partition, 0).records) {
          ids.push(record.headers[EventHeaders.eventId] ?? '');
        }
      }
    }
    return ids.sort();
  }
}

/** A change stream that records what it was told to confirm. */
export class FakeSource implements ChangeStream {
  readonly confirmations: bigint[] = [];
  readonly ended = new Promise<void>(() => undefined);

  get confirmed(): bigint {
    return this.confirmations.at(-1) ?? 0n;
  }

  confirm(position: bigint): void {
    this.confirmations.push(position);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

let counter = 0;
/** An outbox row of `aggregateId` at `version`, with a fresh event id. */
export const row = (aggregateId: string, version: number, aggregateType = 'Account'): OutboxRow => {
  counter += 1;
  return {
    event_id: `00000000-0000-7000-8000-${String(counter).padStart(12, '0')}`,
    aggregate_type: aggregateType,
    aggregate_id: aggregateId,
    aggregate_version: String(version),
    event_type: 'Happened',
    schema_version: '1',
    payload: '{}',
    metadata: '{}',
    occurred_at: '2024-01-01 00:00:00+00',
  };
};

/** A source transaction whose commit LSN is `lsn` and whose commit record ends at `lsn + 0x10`. */
export const tx = (lsn: number, rows: OutboxRow[]): SourceTransaction => ({
  xid: lsn,
  commitLsn: BigInt(lsn),
  commitEndLsn: BigInt(lsn + 0x10),
  commitTimeMicros: 1_700_000_000_000_000n,
  rows,
});

/** A pipeline over the in-memory log, a fake stream and fast linger. */
export function setup(
  batch: Partial<CaptureBatchConfig> = {},
  options: { onUnroutable?: 'warn' | 'error' | 'fatal'; logger?: Logger } = {},
) {
  const log = new InMemoryKafkaLog();
  log.createTopic(CHECKPOINTS, { partitions: 1, cleanupPolicy: 'compact' });
  const sink = new InMemoryLogSink(log);
  const source = new FakeSource();
  const instrumentation = createInstrumentation<CaptureEvents>();
  const pipeline = new CapturePipeline({
    sink,
    router: createOutboxRouter(defaultRouterConfig),
    batch: { ...captureDefaults.batch, lingerMs: 1, ...batch },
    onUnroutable: options.onUnroutable ?? 'fatal',
    logger: options.logger ?? silentLogger,
    instrumentation,
  });
  return { log, sink, source, pipeline, instrumentation };
}

/** Polls `condition` for about a second, then asserts it. */
export const until = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !condition(); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(condition()).toBe(true);
};
