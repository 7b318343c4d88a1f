import type { Knex } from 'knex';
import { type ProjectionRuntimeConfig } from './config.js';
import {
  type KafkaClient,
  type Logger,
  type RecordValueDecoder,
  topicFor,
  type UpcasterChain,
} from '@tributary/core';
import { ProjectionError } from './errors.js';
import { versionedTableName, type AnyProjection } from './projection.js';
import { typedRows } from './internal/sql.js';
import { createProjectionRuntime } from './runtime/kafka-runtime.js';
import type { PostgresProjectionStore } from './store/postgres/postgres-projection-store.js';

/** Progress of a rebuild, reported about twice a second. */
export interface RebuildProgress {
  /** Offsets applied (checkpoints summed over partitions). */
  readonly applied: number;
  /** End offsets summed over partitions at the last measurement. */
  readonly target: number;
  /** Events applied per second since the start. */
  readonly eventsPerSecond: number;
  /** Estimated seconds until caught up, if known. */
  readonly etaSeconds: number | undefined;
  readonly elapsedSeconds: number;
}

/** Options of {@link rebuildProjection}. */
export interface RebuildOptions {
  /** The Kafka client (e.g. `createKafkajsClient` of `@tributary/kafkajs`). */
  readonly kafka: KafkaClient;
  readonly knex: Knex;
  /** The NEW version (its code); the active version keeps serving until the swap. */
  readonly projection: AnyProjection;
  readonly config?: Partial<ProjectionRuntimeConfig>;
  readonly upcasters?: UpcasterChain;
  /** Decodes schema-registry records (see `ProjectionRuntimeOptions.valueDecoder`). Default: JSON only. */
  readonly valueDecoder?: RecordValueDecoder;
  readonly logger?: Logger;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Compare the new tables with the active version's before swapping (same table names). Default false. */
  readonly verify?: boolean;
  /** Columns left out of the comparison (e.g. serial ids that differ by construction). */
  readonly ignoreColumns?: readonly string[];
  /** Swap when caught up. Default true; `false` leaves the new version building. */
  readonly swap?: boolean;
  /** Give up after this long. Default: never. */
  readonly timeoutMs?: number;
}

/** The result of a rebuild. */
export interface RebuildResult {
  readonly applied: number;
  readonly seconds: number;
  /** The version that was retired by the swap, if any. */
  readonly retiredVersion: number | undefined;
  /** Per table, rows that differ between the old and the new version (when verified). */
  readonly differences: Readonly<Record<string, number>> | undefined;
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Rebuilds a projection version by replay: runs the new version in its own consumer group
 * from the earliest offsets into its own tables while the active version keeps serving,
 * reports progress, and when every partition's checkpoint has reached the end offsets,
 * optionally verifies the new tables against the old, then swaps atomically (views switch,
 * old version retired, its tables dropped).
 *
 * @throws ProjectionError `PROJECTION_REBUILD_REFUSED` when the version is the active one,
 * or verification found differences.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const { knex, kafka, projection } = options;
  const runtime = createProjectionRuntime({
    kafka,
    knex,
    projections: [projection],
    ...(options.config === undefined ? {} : { config: options.config }),
    ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
    ...(options.valueDecoder === undefined ? {} : { valueDecoder: options.valueDecoder }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  const { store } = runtime;
  await store.ensureSchema();
  const versions = await store.versions(projection.name);
  const own = versions.find((row) => row.version === projection.version);
  if (own?.status === 'active') {
    throw new ProjectionError(
      'PROJECTION_REBUILD_REFUSED',
      `Projection "${projection.name}" version ${projection.version} is the active version; bump the version to rebuild it`,
    );
  }
  const topics = projection.aggregateTypes.map((aggregateType) =>
    topicFor(store.config, aggregateType),
  );
  const admin = kafka.admin();
  await admin.connect();
  const started = Date.now();
  try {
    await runtime.start();
    const endOffsets = async (): Promise<Map<string, number>> => {
      const ends = new Map<string, number>();
      for (const topic of topics) {
        // The last stable offset: where a read_committed consumer can get to.
        for (const offsets of await admin.fetchOffsets(topic)) {
          ends.set(`${topic}/${offsets.partition}`, Number(offsets.lastStableOffset));
        }
      }
      return ends;
    };
    let applied = 0;
    // The end offsets when the rebuild starts: under writes that never pause, ends measured
    // again at each check keep moving ahead and the rebuild would never be caught up. What
    // arrives later is applied by the active version until the swap, and by the new
    // version's service after it.
    const ends = await endOffsets();
    for (;;) {
      const stored = await store.checkpoints(projection.name, projection.version);
      applied = stored.reduce((sum, row) => sum + row.nextOffset, 0);
      const target = [...ends.values()].reduce((sum, end) => sum + end, 0);
      const elapsedSeconds = (Date.now() - started) / 1_000;
      const eventsPerSecond = elapsedSeconds > 0 ? applied / elapsedSeconds : 0;
      options.onProgress?.({
        applied,
        target,
        eventsPerSecond,
        etaSeconds:
          eventsPerSecond > 0 ? Math.max(0, (target - applied) / eventsPerSecond) : undefined,
        elapsedSeconds,
      });
      const caughtUp = [...ends].every(([key, end]) => {
        const row = stored.find(
          (checkpoint) => `${checkpoint.topic}/${checkpoint.partition}` === key,
        );
        return end === 0 || (row !== undefined && row.nextOffset >= end);
      });
      if (caughtUp) break;
      if (options.timeoutMs !== undefined && Date.now() - started > options.timeoutMs) {
        throw new ProjectionError(
          'PROJECTION_REBUILD_REFUSED',
          `Rebuild did not catch up within ${options.timeoutMs} ms`,
        );
      }
      await Promise.race([sleep(500), runtime.stopped]);
    }
    let differences: Record<string, number> | undefined;
    const active = versions.find((row) => row.status === 'active');
    if (options.verify === true && active !== undefined) {
      await runtime.stop();
      const partitions = [...ends.keys()];
      differences = await compareAtSameOffsets(options, store, active, partitions, started);
      const total = Object.values(differences).reduce((sum, count) => sum + count, 0);
      if (total > 0) {
        throw new ProjectionError(
          'PROJECTION_REBUILD_REFUSED',
          `Rebuilt "${projection.name}" v${projection.version} differs from v${active.version}: ${JSON.stringify(differences)}; not swapped`,
          { details: { differences } },
        );
      }
    }
    // Stop consuming before the swap so the swap does not wait on an in-flight batch; the
    // service deployment of the new version resumes from its checkpoints.
    await runtime.stop();
    const retiredVersion = options.swap === false ? undefined : await store.activate(projection);
    return { applied, seconds: (Date.now() - started) / 1_000, retiredVersion, differences };
  } finally {
    await runtime.stop();
    await admin.disconnect();
  }
}

/**
 * Rows in one table but not the other, both ways (multiset difference, `except all`), on
 * the columns both have minus `ignore`.
 */
export async function countDifferences(
  knex: Knex,
  schema: string,
  left: string,
  right: string,
  ignore: readonly string[] = [],
): Promise<number> {
  const columnsOf = async (table: string): Promise<string[]> => {
    const result = await knex.raw<{ rows: { column_name: string }[] }>(
      `select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position`,
      [schema, table],
    );
    return result.rows.map((row) => row.column_name);
  };
  const rightColumns = new Set(await columnsOf(right));
  const columns = (await columnsOf(left)).filter(
    (column) => rightColumns.has(column) && !ignore.includes(column),
  );
  const list = columns.map(() => '??').join(', ');
  const sql = `select count(*) as count from (
      (select ${list} from ??.?? except all select ${list} from ??.??)
      union all
      (select ${list} from ??.?? except all select ${list} from ??.??)) differences`;
  const result = await knex.raw<{ rows: { count: string | number }[] }>(sql, [
    ...columns,
    schema,
    left,
    ...columns,
    schema,
    right,
    ...columns,
    schema,
    right,
    ...columns,
    schema,
    left,
  ]);
  return Number(result.rows[0]?.count ?? 0);
}

/** `topic/partition` → next offset of a version's checkpoints (absent: 0). */
async function checkpointsOf(
  store: PostgresProjectionStore,
  name: string,
  version: number,
  trx?: Knex.Transaction,
): Promise<Map<string, number>> {
  const query = (trx ?? store.knex)(store.refs.checkpoints)
    .where({ projection: name, version })
    .select('topic', 'partition', 'next_offset');
  // Locked by the caller's transaction: the active version's batches wait at their
  // checkpoint lock, so its tables hold still while they are compared.
  if (trx !== undefined) void query.orderBy(['topic', 'partition']).forUpdate();
  const rows = await typedRows<{ topic: string; partition: number; next_offset: string }>(query);
  return new Map(rows.map((row) => [`${row.topic}/${row.partition}`, Number(row.next_offset)]));
}

/**
 * Compares the rebuilt version with the active one at the SAME offsets: the active
 * version's checkpoint rows are locked (it holds still, its batches wait), the rebuilt
 * version is brought exactly to those offsets (`applyBelow`), the tables are compared, and
 * the lock is released. When the rebuilt version is ahead, the active one is given time to
 * catch up first.
 *
 * @throws ProjectionError `PROJECTION_REBUILD_REFUSED` when the active version stays
 * behind (it is not running) until the timeout.
 */
async function compareAtSameOffsets(
  options: RebuildOptions,
  store: PostgresProjectionStore,
  active: { readonly version: number; readonly tables: readonly string[] },
  partitions: readonly string[],
  started: number,
): Promise<Record<string, number>> {
  const { projection } = options;
  const deadline = started + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
  for (;;) {
    const outcome = await store.knex.transaction(async (trx) => {
      const live = await checkpointsOf(store, projection.name, active.version, trx);
      const rebuilt = await checkpointsOf(store, projection.name, projection.version);
      const at = (map: Map<string, number>, key: string): number => map.get(key) ?? 0;
      const ahead = partitions.filter((key) => at(rebuilt, key) > at(live, key));
      if (ahead.length > 0) return { ahead, target: rebuilt };
      const behind = partitions.filter((key) => at(rebuilt, key) < at(live, key));
      if (behind.length > 0) {
        const limited = createProjectionRuntime({
          kafka: options.kafka,
          knex: store.knex,
          projections: [projection],
          config: store.config,
          applyBelow: new Map(partitions.map((key) => [key, at(live, key)])),
          ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
          ...(options.valueDecoder === undefined ? {} : { valueDecoder: options.valueDecoder }),
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        });
        await limited.start();
        try {
          for (;;) {
            const now = await checkpointsOf(store, projection.name, projection.version);
            if (partitions.every((key) => at(now, key) === at(live, key))) break;
            if (Date.now() > deadline) throw rebuildTimeout(options);
            await Promise.race([sleep(200), limited.stopped]);
          }
        } finally {
          await limited.stop();
        }
      }
      const differences: Record<string, number> = {};
      for (const table of projection.tables) {
        if (!active.tables.includes(table)) continue;
        differences[table] = await countDifferences(
          trx,
          store.config.readModelSchema,
          versionedTableName(table, active.version),
          versionedTableName(table, projection.version),
          options.ignoreColumns ?? [],
        );
      }
      return { differences };
    });
    if ('differences' in outcome) return outcome.differences;
    // The active version is behind the rebuilt one: let it catch up, then lock again.
    for (;;) {
      const live = await checkpointsOf(store, projection.name, active.version);
      if (outcome.ahead.every((key) => (live.get(key) ?? 0) >= (outcome.target.get(key) ?? 0)))
        break;
      if (Date.now() > deadline) {
        throw new ProjectionError(
          'PROJECTION_REBUILD_REFUSED',
          `Cannot verify "${projection.name}" v${projection.version} against v${active.version} at the same offsets: ` +
            `v${active.version} stays behind on ${outcome.ahead.join(', ')}; run its service so it catches up, or rebuild without --verify`,
        );
      }
      await sleep(500);
    }
  }
}

const rebuildTimeout = (options: RebuildOptions): ProjectionError =>
  new ProjectionError(
    'PROJECTION_REBUILD_REFUSED',
    `Rebuild did not catch up within ${options.timeoutMs} ms`,
  );
