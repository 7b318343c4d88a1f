import {
  createInstrumentation,
  isKafkaSecurityError,
  isTributaryError,
  type Instrumentation,
  type KafkaBatch,
  type KafkaClient,
  type KafkaConsumer,
  type KafkaProducer,
  type KafkaRecord,
  type KafkaTopicPartition,
  type Tracer,
  type KafkaTopicSpec,
  type Logger,
  type RecordValueDecoder,
  silentLogger,
  topicFor,
  UpcasterChain,
} from '@tributary/core';
import type { Knex } from 'knex';
import {
  deadLetterTopicFor,
  groupIdFor,
  resolveProjectionRuntimeConfig,
  type ProjectionRuntimeConfig,
} from '../config.js';
import type { ProjectionInstrumentationEvents } from '../instrumentation.js';
import type { SourceRecord } from '../source-record.js';
import { FaultInjector, type FaultPlan } from '../fault-injection.js';
import { validateProjection, type AnyProjection } from '../projection.js';
import { PostgresProjectionStore } from '../store/postgres/postgres-projection-store.js';
import { projectionDatabaseFailure } from '../store/postgres/access.js';
import { kafkaDeadLetterPublisher } from './dead-letter.js';
import { runningProjection, waitForProjection, type WaitForOptions } from '../read-your-writes.js';
import { hiddenEntriesCoverer } from './hidden-entries.js';
import { isFatalProjectionError, ProjectionApplier } from './projection-applier.js';
import { ProjectionError } from '../errors.js';
import { StallWatchdog, type PartitionProgress, type StalledPartition } from './stall-watchdog.js';

/** Options of {@link createProjectionRuntime}. */
export interface ProjectionRuntimeOptions {
  /** The Kafka client (e.g. `createKafkajsClient` of `@tributary/kafkajs`). */
  readonly kafka: KafkaClient;
  /** The read-model database (a `pg` knex). The caller owns it and destroys it after `stop()`. */
  readonly knex: Knex;
  /** The projections to run, each in its own consumer group. */
  readonly projections: readonly AnyProjection[];
  readonly config?: Partial<ProjectionRuntimeConfig>;
  /** Upcasters applied before handlers (the same chain the command side uses). */
  readonly upcasters?: UpcasterChain;
  /**
   * Decodes record values by magic byte and schema id, so JSON and schema-registry records
   * can share a topic (`createRecordValueDecoder` of `@tributary/core`). Default: JSON only.
   */
  readonly valueDecoder?: RecordValueDecoder;
  readonly instrumentation?: Instrumentation<ProjectionInstrumentationEvents>;
  /** Spans each applied event as a child of its record's `traceparent`. Default: none. */
  readonly tracer?: Tracer;
  readonly logger?: Logger;
  /** Crash-test fault plans (see `faultPlansFromEnvironment`). Default: none. */
  readonly faults?: readonly FaultPlan[];
  /**
   * Applies each listed partition (`topic/partition` → offset) only below that offset, then
   * pauses it with its checkpoint exactly there: how `rebuildProjection` brings a rebuilt
   * version to the same offsets as the active one before `verify`. Default: no limit.
   */
  readonly applyBelow?: ReadonlyMap<string, number>;
}

/** A running set of projections. */
export interface ProjectionRuntime {
  readonly store: PostgresProjectionStore;
  readonly instrumentation: Instrumentation<ProjectionInstrumentationEvents>;
  /** Prepares (migrates, registers) every projection and starts consuming. */
  start(): Promise<void>;
  /**
   * Stops consuming: in-flight batches finish (their transactions commit or roll back),
   * consumers leave their groups so partitions move to the other processes at once.
   */
  stop(): Promise<void>;
  /** Settles when the runtime stopped: resolves after `stop()`, rejects on a fatal error. */
  readonly stopped: Promise<void>;
  /**
   * Read-your-writes: resolves when `projection` (active version) has applied the command
   * behind `consistencyToken` (from `CommandResult.consistencyToken`).
   *
   * @throws ConsistencyTimeoutError after `timeoutMs` (default 5 s); ProjectionError
   * `PROJECTION_NOT_FOUND` for a projection this runtime does not run.
   */
  waitFor(projection: string, consistencyToken: string, options?: WaitForOptions): Promise<void>;
}

const utf8 = new TextDecoder();

const toSourceRecord = (record: KafkaRecord): SourceRecord => ({
  topic: record.topic,
  partition: record.partition,
  offset: Number(record.offset),
  // Node clients hand out Buffers, whose own UTF-8 decoding is the fastest for short keys.
  key:
    record.key === null
      ? null
      : Buffer.isBuffer(record.key)
        ? record.key.toString('utf8')
        : utf8.decode(record.key),
  value: record.value,
  headers: record.headers,
});

/**
 * The projection runtime on Kafka (any client of the port) and PostgreSQL (knex), exactly once:
 *
 * - one consumer group per projection name + version, reading `read_committed`;
 * - each partition batch is applied in ONE database transaction that locks the checkpoint
 *   row, skips records below it and moves it (see {@link ProjectionApplier});
 * - on assignment, each partition seeks to its stored checkpoint (the database, not Kafka,
 *   is the source of truth); Kafka offsets are committed afterwards only for lag tools;
 * - several processes share the partitions through the consumer group; a zombie that lost
 *   its partition is serialized by the checkpoint row lock and applies nothing twice.
 */
export function createProjectionRuntime(options: ProjectionRuntimeOptions): ProjectionRuntime {
  const config = resolveProjectionRuntimeConfig(options.config);
  const store = new PostgresProjectionStore(options.knex, config);
  const logger = options.logger ?? silentLogger;
  const instrumentation =
    options.instrumentation ?? createInstrumentation<ProjectionInstrumentationEvents>();
  const faults = new FaultInjector(options.faults ?? []);
  const upcasters = options.upcasters ?? new UpcasterChain();
  const kafka = options.kafka;
  for (const projection of options.projections) validateProjection(projection);
  // Rare, and a sign of a handler bug the operator should see even without metrics.
  instrumentation.on('projection.event.rolled-back', (event) => {
    logger.warn(
      'a handler caught a database error and left its transaction aborted; its writes for this event were rolled back',
      {
        projection: event.projection,
        eventId: event.eventId,
        eventType: event.eventType,
        position: `${event.position.topic}/${event.position.partition}@${event.position.offset}`,
      },
    );
  });

  let producer: Promise<KafkaProducer> | undefined;
  const deadLetterProducer = (): Promise<KafkaProducer> => {
    producer ??= (async () => {
      const created = kafka.producer();
      await created.connect();
      return created;
    })();
    return producer;
  };

  // Events and dead letters are the record of what happened: kept until deleted on purpose.
  const createdTopic = (topic: string): KafkaTopicSpec => ({
    topic,
    partitions: config.topicPartitions,
    replicationFactor: config.topicReplicationFactor,
    configs: {
      'retention.ms': '-1',
      ...(config.topicMinInsyncReplicas > 0
        ? { 'min.insync.replicas': String(config.topicMinInsyncReplicas) }
        : {}),
    },
  });

  const consumers: KafkaConsumer[] = [];
  const watchdogs: StallWatchdog[] = [];
  let stopping = false;
  let settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  const stopped = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Unobserved until someone awaits it; a fatal error must not become an unhandled rejection.
  stopped.catch(() => undefined);

  /**
   * `disconnectWaitMs` bounds the wait for in-flight batches: after a stall one of them may
   * never finish, and the runtime must still report its error.
   */
  const stop = async (error?: unknown, disconnectWaitMs?: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const watchdog of watchdogs) watchdog.stop();
    // Disconnecting waits for in-flight batches, then leaves the groups (a prompt rebalance).
    const disconnected = Promise.allSettled(consumers.map((consumer) => consumer.disconnect()));
    if (disconnectWaitMs === undefined) await disconnected;
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        disconnected.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), disconnectWaitMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut)
        logger.warn('consumers did not disconnect in time; stopping without them', {
          waitedMs: disconnectWaitMs,
        });
    }
    if (producer !== undefined) await (await producer).disconnect().catch(() => undefined);
    if (error === undefined) settle?.resolve();
    else settle?.reject(error);
  };

  /** Creates missing topics, or waits for them (polling), as configured. */
  const ensureTopics = async (topics: readonly string[]): Promise<void> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (let waited = 0; !stopping; waited += 1) {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((topic) => !existing.has(topic));
        if (missing.length === 0) return;
        if (config.missingTopics === 'create') {
          await admin.createTopics(missing.map(createdTopic));
          continue;
        }
        if (waited % 30 === 0)
          logger.info('waiting for topics to be created', { topics: missing.join(',') });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    } finally {
      await admin.disconnect();
    }
  };

  /**
   * The dead-letter topic exists before the first dead letter: producing to a missing
   * topic would leave it to broker auto-creation (default retention, default partitions)
   * or fail where auto-creation is off.
   */
  const ensureDeadLetterTopic = async (projection: AnyProjection): Promise<void> => {
    const topic = deadLetterTopicFor(config, projection.name);
    const admin = kafka.admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(topic))
        await admin.createTopics([createdTopic(topic)]);
    } finally {
      await admin.disconnect();
    }
  };

  const startOne = async (projection: AnyProjection): Promise<void> => {
    const prepared = await store.prepare(projection);
    const deadLettering = (projection.poison ?? config.poison) === 'dead-letter';
    if (deadLettering) await ensureDeadLetterTopic(projection);
    const groupId = groupIdFor(config, projection);
    logger.info('projection prepared', {
      projection: projection.name,
      version: projection.version,
      status: prepared.status,
      migrations: prepared.applied.length,
      groupId,
    });
    const applier = new ProjectionApplier({
      store,
      projection,
      config,
      upcasters,
      ...(options.valueDecoder === undefined ? {} : { valueDecoder: options.valueDecoder }),
      instrumentation,
      faults,
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
      ...(deadLettering
        ? { deadLetter: kafkaDeadLetterPublisher(deadLetterProducer, config) }
        : {}),
    });
    const topics = projection.aggregateTypes.map((aggregateType) =>
      topicFor(config, aggregateType),
    );

    // This member's current assignment, for the stall watchdog.
    const assignment = new Map<string, KafkaTopicPartition>();
    const onPartitionsAssigned = (assigned: readonly KafkaTopicPartition[]): void => {
      assignment.clear();
      for (const tp of assigned) assignment.set(`${tp.topic}/${tp.partition}`, tp);
      // Seek every assigned partition to the checkpoint stored in the database. Kafka's
      // committed offsets trail the database (they are committed after it), so until the
      // seek lands, batches start too early and are skipped by the checkpoint check; a
      // partition without a stored checkpoint starts from the earliest offset even if Kafka
      // has an offset for it (the read model, not Kafka, says what was applied).
      // Paused synchronously (the listener runs before the first fetch of the new
      // generation) and resumed once the seeks are in, so no batch starts at Kafka's
      // trailing offsets.
      consumer.pause(assigned);
      void (async () => {
        try {
          const stored = await store.checkpoints(projection.name, projection.version);
          const earliest = new Map<string, number>();
          const admin = kafka.admin();
          await admin.connect();
          try {
            for (const topic of new Set(assigned.map((tp) => tp.topic))) {
              for (const offsets of await admin.fetchOffsets(topic)) {
                earliest.set(`${topic}/${offsets.partition}`, Number(offsets.earliest));
              }
            }
          } finally {
            await admin.disconnect();
          }
          const partitions: { topic: string; partition: number; nextOffset: number | undefined }[] =
            [];
          for (const { topic, partition } of assigned) {
            const found = stored.find((row) => row.topic === topic && row.partition === partition);
            partitions.push({ topic, partition, nextOffset: found?.nextOffset });
            const target = found?.nextOffset ?? earliest.get(`${topic}/${partition}`) ?? 0;
            consumer.seek({ topic, partition, offset: BigInt(target) });
          }
          instrumentation.emit('projection.partitions.assigned', () => ({
            projection: projection.name,
            version: projection.version,
            partitions,
          }));
          logger.info('partitions assigned', {
            projection: projection.name,
            partitions: partitions
              .map((p) => `${p.topic}/${p.partition}@${p.nextOffset ?? 'earliest'}`)
              .join(','),
          });
        } catch (error) {
          // Harmless for correctness (the checkpoint check still skips applied records).
          logger.warn('could not seek to stored checkpoints', {
            projection: projection.name,
            error,
          });
        } finally {
          try {
            consumer.resume(assigned);
          } catch (error) {
            // The runtime was stopped while the seek was in flight (kafkajs: "Consumer group
            // was not initialized"): nothing is left to resume, and an unhandled rejection
            // here would crash the host process.
            logger.debug('partitions not resumed: the consumer stopped', {
              projection: projection.name,
              error,
            });
          }
        }
      })();
    };
    const consumer = kafka.consumer({
      groupId,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      maxWaitTimeMs: config.maxWaitTimeMs,
      onPartitionsAssigned,
      onPartitionsRevoked: (revoked) => {
        for (const tp of revoked) assignment.delete(`${tp.topic}/${tp.partition}`);
      },
    });
    consumers.push(consumer);

    let retired = false;
    const eachBatch = async (batch: KafkaBatch): Promise<void> => {
      const { topic, partition } = batch;
      const limit = options.applyBelow?.get(`${topic}/${partition}`);
      const messages =
        limit === undefined
          ? batch.records
          : batch.records.filter((record) => Number(record.offset) < limit);
      // The fetch is contiguous from the checkpoint the partition was sought to: what lies
      // between its last record below the limit and the limit is hidden entries only.
      const coveredThrough =
        limit === undefined
          ? Number(batch.lastOffset)
          : Math.min(Number(batch.lastOffset), limit - 1);
      if (limit !== undefined && messages.length < batch.records.length) {
        consumer.pause([{ topic, partition }]);
        if (messages.length === 0 && !stopping) {
          await applier.coverHidden({ topic, partition }, 0, limit - 1);
          return;
        }
      }
      for (let start = 0; start < messages.length; start += config.maxBatchRecords) {
        // A seek (new assignment) or a stop makes the rest of this fetch obsolete.
        if (!batch.isRunning() || batch.isStale() || stopping || retired) return;
        const chunk = messages.slice(start, start + config.maxBatchRecords).map(toSourceRecord);
        const last = chunk[chunk.length - 1];
        if (last === undefined) continue;
        let nextOffset: number;
        try {
          const isLastChunk = start + config.maxBatchRecords >= messages.length;
          const outcome = await applier.applyBatch(
            chunk,
            isLastChunk ? { coveredThroughOffset: coveredThrough } : {},
          );
          nextOffset = outcome.nextOffset;
          // Records below the stored checkpoint come first in offset order.
          if (outcome.skipped > 0)
            logger.debug('records skipped below the checkpoint', {
              projection: projection.name,
              topic,
              partition,
              firstOffset: chunk[0]?.offset,
              lastOffset: chunk[outcome.skipped - 1]?.offset,
              count: outcome.skipped,
              nextOffset: outcome.nextOffset,
            });
          if (outcome.skipped < chunk.length)
            logger.debug('batch committed', {
              projection: projection.name,
              topic,
              partition,
              firstOffset: chunk[outcome.skipped]?.offset,
              lastOffset: last.offset,
              count: chunk.length - outcome.skipped,
              applied: outcome.applied,
              nextOffset: outcome.nextOffset,
            });
        } catch (error) {
          // A refused dead-letter topic (ACL) fails the same way on every redelivery.
          if (!isFatalProjectionError(error) && !isKafkaSecurityError(error)) throw error;
          if (isTributaryError(error) && error.code === 'PROJECTION_RETIRED') {
            // A rebuild swapped a newer version in: only this version's consumer stops, the
            // other projections of the process carry on. Not awaited: disconnecting waits
            // for the batches in flight, this one included.
            if (!retired) {
              retired = true;
              watchdog?.stop();
              logger.info('projection version retired by a rebuild; its consumer stops', {
                projection: projection.name,
                version: projection.version,
              });
              instrumentation.emit('projection.stopped', () => ({
                projection: projection.name,
                version: projection.version,
                error,
              }));
              void consumer.disconnect().catch((disconnectError: unknown) => {
                logger.warn('could not leave the group of a retired version', {
                  projection: projection.name,
                  error: disconnectError,
                });
              });
            }
            return;
          }
          logger.error('projection stopped', {
            projection: projection.name,
            topic,
            partition,
            error,
          });
          instrumentation.emit('projection.stopped', () => ({
            projection: projection.name,
            version: projection.version,
            error,
          }));
          // Stop without resolving: the checkpoint stays before the failing record.
          void stop(error);
          return;
        }
        // Crash point for tests: committed in the database, not yet in Kafka.
        faults.hit('after-commit');
        batch.resolveOffset(BigInt(last.offset));
        try {
          // Only so that lag tools (kafka-consumer-groups, Burrow) see progress; the database
          // checkpoint is what the runtime trusts.
          await consumer.commitOffsets([{ topic, partition, offset: BigInt(nextOffset) }]);
        } catch (error) {
          logger.debug('Kafka offset commit failed (lag tooling only)', {
            topic,
            partition,
            error,
          });
        }
        await batch.heartbeat();
      }
    };

    await ensureTopics(topics);
    if (stopping) return;
    await consumer.connect();
    await consumer.subscribe(topics, { fromBeginning: true });
    const onHiddenEntries = hiddenEntriesCoverer({
      ...(options.applyBelow === undefined ? {} : { limits: options.applyBelow }),
      applier,
      logger,
      projection: projection.name,
      active: () => !stopping && !retired,
    });
    const watchdog =
      config.stallTimeoutMs === 0
        ? undefined
        : new StallWatchdog({
            timeoutMs: config.stallTimeoutMs,
            probe: () => assignmentProgress(projection, [...assignment.values()]),
            onProbeFailure: (error) =>
              logger.debug('stall check skipped: progress not readable', {
                projection: projection.name,
                error,
              }),
            onStall: (stalled) => {
              if (stopping || retired) return;
              const error = stalledError(projection, stalled);
              logger.error('projection stalled', {
                projection: projection.name,
                version: projection.version,
                partitions: stalled
                  .map((p) => `${p.topic}/${p.partition}@${p.nextOffset}<${p.targetOffset}`)
                  .join(','),
                error,
              });
              instrumentation.emit('projection.stopped', () => ({
                projection: projection.name,
                version: projection.version,
                error,
              }));
              void stop(error, STALLED_DISCONNECT_WAIT_MS);
            },
          });
    if (watchdog !== undefined) {
      watchdogs.push(watchdog);
      instrumentation.on('projection.batch.retry', (retry) => {
        if (retry.projection === projection.name) watchdog.touch(retry.topic, retry.partition);
      });
    }
    await consumer.run({
      partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
      eachBatch,
      onHiddenEntries,
      // A lost group ACL or refused credentials: stop the whole runtime with the typed error
      // (the process exits non-zero) rather than keep a member that consumes nothing.
      onFatalError: (error) => {
        logger.error('projection consumer stopped', { projection: projection.name, error });
        instrumentation.emit('projection.stopped', () => ({
          projection: projection.name,
          version: projection.version,
          error,
        }));
        void stop(error);
      },
    });
    if (!stopping) watchdog?.start();
  };

  /** Each assigned partition's stored checkpoint against what there is to apply. */
  const assignmentProgress = async (
    projection: AnyProjection,
    assigned: readonly KafkaTopicPartition[],
  ): Promise<PartitionProgress[]> => {
    if (assigned.length === 0) return [];
    const stored = await store.checkpoints(projection.name, projection.version);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const progress: PartitionProgress[] = [];
      for (const topic of new Set(assigned.map((tp) => tp.topic))) {
        const offsets = await admin.fetchOffsets(topic);
        for (const { partition } of assigned.filter((tp) => tp.topic === topic)) {
          const found = offsets.find((o) => o.partition === partition);
          if (found === undefined) continue;
          const limit = options.applyBelow?.get(`${topic}/${partition}`);
          const end = Number(found.lastStableOffset);
          progress.push({
            topic,
            partition,
            nextOffset:
              stored.find((row) => row.topic === topic && row.partition === partition)
                ?.nextOffset ?? Number(found.earliest),
            targetOffset: limit === undefined ? end : Math.min(end, limit),
          });
        }
      }
      return progress;
    } finally {
      await admin.disconnect();
    }
  };

  return {
    store,
    instrumentation,
    stopped,
    waitFor: async (projectionName, token, waitOptions = {}) => {
      await waitForProjection(
        store,
        runningProjection(options.projections, projectionName),
        token,
        waitOptions,
      );
    },
    async start() {
      try {
        await store.ensureSchema();
      } catch (error) {
        // The first statement of the process: where a refused role or missing TLS shows.
        throw projectionDatabaseFailure(error) ?? error;
      }
      try {
        for (const projection of options.projections) await startOne(projection);
      } catch (error) {
        await stop(error);
        throw error;
      }
    },
    stop: () => stop(),
  };
}

/** How long a stalled runtime waits for its consumers to leave their groups. */
const STALLED_DISCONNECT_WAIT_MS = 5_000;

function stalledError(projection: AnyProjection, stalled: readonly StalledPartition[]): Error {
  const where = stalled
    .map(
      (p) =>
        `${p.topic}/${p.partition} (checkpoint ${p.nextOffset}, records up to ${p.targetOffset - 1}, ` +
        `unmoved for ${Math.round(p.stalledForMs / 1000)} s)`,
    )
    .join(', ');
  return new ProjectionError(
    'PROJECTION_STALLED',
    `Projection "${projection.name}" v${projection.version} stalled: ${where}. Nothing failed, ` +
      'but nothing was applied: a handler whose promise never settles, or a Kafka consumer that ' +
      'stopped fetching. The runtime stops so that its supervisor restarts it (a restart rejoins ' +
      'the group and resumes from the checkpoint; nothing is lost or applied twice). If it ' +
      'recurs, look at the handler and the Kafka client logs; raise stallTimeoutMs ' +
      '(--stall-timeout-ms) only if one batch legitimately takes longer.',
    { details: { projection: projection.name, version: projection.version, partitions: stalled } },
  );
}
