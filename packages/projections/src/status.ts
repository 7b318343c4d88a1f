import { type KafkaClient, topicFor } from '@tributary/core';
import type { AnyProjection } from './projection.js';
import type { PostgresProjectionStore } from './store/postgres/postgres-projection-store.js';
import type { ProjectionVersionStatus } from './store/projection-store.js';

/** One partition of one projection version, as `tributary status` shows it. */
export interface PartitionStatus {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to apply (the stored checkpoint), or null when the partition was never applied. */
  readonly storedOffset: number | null;
  /** The partition's end offset for read_committed consumers (last stable offset). */
  readonly endOffset: number;
  /** `endOffset - storedOffset` (all of it when never applied). */
  readonly lag: number;
}

/** One projection version, as `tributary status` shows it. */
export interface ProjectionStatus {
  readonly projection: string;
  readonly version: number;
  readonly status: ProjectionVersionStatus;
  readonly partitions: readonly PartitionStatus[];
  readonly lag: number;
  /** Parked events, and how many aggregates they hold back. */
  readonly parkedEvents: number;
  readonly parkedAggregates: number;
}

/**
 * Per projection version and partition: stored offset, end offset and lag, plus parked
 * events. Topics come from the given projection definitions and from stored checkpoints,
 * so it works with or without the projections' code.
 */
export async function projectionStatus(
  store: PostgresProjectionStore,
  kafka: KafkaClient,
  projections: readonly AnyProjection[] = [],
): Promise<ProjectionStatus[]> {
  await store.ensureSchema();
  const [versions, checkpoints, parked] = await Promise.all([
    store.versions(),
    store.checkpoints(),
    store.parkedEvents(),
  ]);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = new Map<string, Map<number, number>>();
    const endsOf = async (topic: string): Promise<Map<number, number>> => {
      let known = ends.get(topic);
      if (known === undefined) {
        known = new Map();
        try {
          for (const offsets of await admin.fetchOffsets(topic))
            known.set(offsets.partition, Number(offsets.lastStableOffset));
        } catch {
          // Topic not created yet: nothing to consume.
        }
        ends.set(topic, known);
      }
      return known;
    };
    const result: ProjectionStatus[] = [];
    for (const version of versions.filter((row) => row.status !== 'retired')) {
      const own = checkpoints.filter(
        (row) => row.projection === version.projection && row.version === version.version,
      );
      const definition = projections.find((p) => p.name === version.projection);
      const topics = new Set([
        ...own.map((row) => row.topic),
        ...(definition?.aggregateTypes.map((type) => topicFor(store.config, type)) ?? []),
      ]);
      const partitions: PartitionStatus[] = [];
      for (const topic of [...topics].sort()) {
        for (const [partition, endOffset] of [...(await endsOf(topic))].sort(
          (a, b) => a[0] - b[0],
        )) {
          const stored = own.find((row) => row.topic === topic && row.partition === partition);
          const storedOffset = stored?.nextOffset ?? null;
          partitions.push({
            topic,
            partition,
            storedOffset,
            endOffset,
            lag: Math.max(0, endOffset - (storedOffset ?? 0)),
          });
        }
      }
      const parkedRows = parked.filter(
        (row) => row.projection === version.projection && row.version === version.version,
      );
      result.push({
        projection: version.projection,
        version: version.version,
        status: version.status,
        partitions,
        lag: partitions.reduce((sum, p) => sum + p.lag, 0),
        parkedEvents: parkedRows.length,
        parkedAggregates: new Set(
          parkedRows.map((row) => `${row.aggregateType}/${row.aggregateId}`),
        ).size,
      });
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}
