/**
 * The whole pipeline as `tributary status` shows it: the replication slot (PostgreSQL), the
 * capturer's Kafka checkpoint, the event topics' end offsets, and every projection
 * (`projectionStatus` of `@tributary/projections`). Read-only: it creates no topic, slot or
 * table, and it never prints connection strings.
 */
import type { KafkaClient } from '@tributary/core';
import { decodeCheckpoint, formatLsn, inspectSlot, type CaptureConfig } from '@tributary/outbox';
import type { ProjectionStatus } from '@tributary/projections';
import pg from 'pg';

/** The replication slot of the capturer. */
export interface SlotStatus {
  readonly name: string;
  /** False when the slot does not exist (capture never ran, or it was dropped). */
  readonly exists: boolean;
  /** A walsender (the active capturer) holds it. */
  readonly active: boolean;
  readonly activePid: number | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (invalidated: capture halts). */
  readonly walStatus: string | null;
  /** Position the capturer confirmed (everything before it is in Kafka). */
  readonly confirmedLsn: string | null;
  /** WAL the slot keeps on the server (current position minus the restart position). */
  readonly retainedWalBytes: number | null;
  /** WAL written since the confirmed position: what capture has not confirmed yet. */
  readonly lagBytes: number | null;
}

/** The capture half. */
export interface CaptureStatus {
  readonly name: string;
  readonly slot: SlotStatus;
  /** `streaming` while the slot is held; standbys are invisible from outside. */
  readonly capturer: 'streaming' | 'not streaming';
  /** Last commit LSN committed to Kafka with its events (the checkpoint), or null. */
  readonly checkpointLsn: string | null;
  readonly checkpointTopic: string;
}

/** One event topic. */
export interface TopicStatus {
  readonly topic: string;
  /** read_committed end offset (last stable offset) per partition. */
  readonly partitions: readonly { readonly partition: number; readonly endOffset: number }[];
  /** Sum over partitions (offsets include transaction markers, so it exceeds the event count). */
  readonly endOffset: number;
}

/** Everything `tributary status` reports. */
export interface PipelineStatus {
  readonly capture: CaptureStatus;
  readonly topics: readonly TopicStatus[];
  readonly projections: readonly ProjectionStatus[];
}

/** Collaborators of {@link pipelineStatus}. */
export interface PipelineStatusOptions {
  /** The outbox database (where the slot lives). */
  readonly sourceDatabaseUrl: string;
  /** Capture settings: name, slot, checkpoint topic, topic prefix. */
  readonly capture: CaptureConfig;
  readonly kafka: KafkaClient;
  /** The projections' status, already read. */
  readonly projections: readonly ProjectionStatus[];
}

/** Reads the pipeline's status. */
export async function pipelineStatus(options: PipelineStatusOptions): Promise<PipelineStatus> {
  const { capture, kafka } = options;
  const [slot, checkpointLsn, topics] = await Promise.all([
    slotStatus(options.sourceDatabaseUrl, capture.slot.name),
    checkpoint(kafka, capture),
    topicStatuses(kafka, capture, options.projections),
  ]);
  return {
    capture: {
      name: capture.name,
      slot,
      capturer: slot.active ? 'streaming' : 'not streaming',
      checkpointLsn,
      checkpointTopic: capture.topics.checkpointTopic,
    },
    topics,
    projections: options.projections,
  };
}

async function slotStatus(databaseUrl: string, name: string): Promise<SlotStatus> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const state = await inspectSlot(client, name);
    if (state === undefined) {
      return {
        name,
        exists: false,
        active: false,
        activePid: null,
        walStatus: null,
        confirmedLsn: null,
        retainedWalBytes: null,
        lagBytes: null,
      };
    }
    const { rows } = await client.query<{ retained: string | null; lag: string | null }>(
      `select pg_current_wal_lsn() - restart_lsn as retained,
              pg_current_wal_lsn() - confirmed_flush_lsn as lag
         from pg_replication_slots where slot_name = $1`,
      [name],
    );
    const bytes = (value: string | null | undefined): number | null =>
      value === null || value === undefined ? null : Math.max(0, Number(value));
    return {
      name,
      exists: true,
      active: state.active,
      activePid: state.activePid,
      walStatus: state.walStatus,
      confirmedLsn: state.confirmedFlushLsn === null ? null : formatLsn(state.confirmedFlushLsn),
      retainedWalBytes: bytes(rows[0]?.retained),
      lagBytes: bytes(rows[0]?.lag),
    };
  } finally {
    await client.end();
  }
}

async function checkpoint(kafka: KafkaClient, capture: CaptureConfig): Promise<string | null> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(capture.topics.checkpointTopic)) return null;
  } finally {
    await admin.disconnect();
  }
  const decoder = new TextDecoder();
  let latest: Uint8Array | undefined;
  await kafka.readCommitted(capture.topics.checkpointTopic, (record) => {
    if (record.key !== null && record.value !== null && decoder.decode(record.key) === capture.name)
      latest = record.value;
  });
  return latest === undefined
    ? null
    : formatLsn(decodeCheckpoint(decoder.decode(latest)).commitLsn);
}

async function topicStatuses(
  kafka: KafkaClient,
  capture: CaptureConfig,
  projections: readonly ProjectionStatus[],
): Promise<TopicStatus[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const internal = new Set([capture.topics.checkpointTopic, capture.topics.transactionTopic]);
    const prefix = `${capture.router.topicPrefix}.`;
    const names = new Set([
      ...[...existing].filter((topic) => topic.startsWith(prefix) && !internal.has(topic)),
      ...projections.flatMap((p) => p.partitions.map((partition) => partition.topic)),
    ]);
    const statuses: TopicStatus[] = [];
    for (const topic of [...names].sort()) {
      if (!existing.has(topic)) continue;
      const partitions = (await admin.fetchOffsets(topic))
        .map((offsets) => ({
          partition: offsets.partition,
          endOffset: Number(offsets.lastStableOffset),
        }))
        .sort((a, b) => a.partition - b.partition);
      statuses.push({
        topic,
        partitions,
        endOffset: partitions.reduce((sum, p) => sum + p.endOffset, 0),
      });
    }
    return statuses;
  } finally {
    await admin.disconnect();
  }
}
