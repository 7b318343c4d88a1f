import {
  createInstrumentation,
  type Instrumentation,
  topicFor,
  UpcasterChain,
} from '@tributary/core';
import {
  deadLetterHeaders,
  deadLetterTopicFor,
  FaultInjector,
  groupIdFor,
  headersAsStrings,
  isSimulatedCrash,
  PostgresProjectionStore,
  ProjectionApplier,
  resolveProjectionRuntimeConfig,
  runningProjection,
  SimulatedCrash,
  validateProjection,
  waitForProjection,
  type AnyProjection,
  type DeadLetterPublisher,
  type FaultPoint,
  type ProjectionContext,
  type ProjectionInstrumentationEvents,
  type ProjectionRuntimeConfig,
  type SourceRecord,
  type WaitForOptions,
} from '@tributary/projections';
import type { Knex } from 'knex';
import type { InMemoryConsumer } from '../log/consumer.js';
import type { InMemoryKafkaLog } from '../log/in-memory-kafka-log.js';

/** Options of {@link InMemoryProjectionRuntime}. */
export interface InMemoryProjectionRuntimeOptions {
  readonly log: InMemoryKafkaLog;
  /** The read-model database: PGlite (see `createPgliteKnex`) or a real Postgres. */
  readonly knex: Knex;
  readonly projections: readonly AnyProjection[];
  readonly config?: Partial<ProjectionRuntimeConfig>;
  readonly upcasters?: UpcasterChain;
  readonly instrumentation?: Instrumentation<ProjectionInstrumentationEvents>;
  /**
   * Where dead letters go (poison policy `dead-letter`): default, the log's topic
   * `<deadLetterTopicPrefix>.<projection>` (created on first use, 1 partition).
   */
  readonly deadLetter?: DeadLetterPublisher;
  /**
   * Seek to the stored checkpoints on assignment, as the Kafka runtime does. `false`
   * simulates a seek that has not landed yet: members re-read from Kafka's committed
   * offsets, which trail the database, so already-applied records are redelivered (and
   * must be skipped). Default `true`.
   */
  readonly seekOnAssignment?: boolean;
  /** Consumer-group members per projection (to exercise rebalances). Default 1. */
  readonly consumersPerProjection?: number;
}

/** What one {@link InMemoryProjectionRuntime.runUntilIdle} did. */
export interface RunSummary {
  /** Records delivered to the applier (redeliveries included). */
  readonly delivered: number;
  /** Events applied. */
  readonly applied: number;
  /** Records skipped because the checkpoint was past them. */
  readonly skipped: number;
  /** Simulated crashes that happened. */
  readonly crashes: number;
  /**
   * Consumed topics that do not exist yet (`missingTopics: 'wait'`, the default): nothing
   * of theirs was projected. Members subscribe to them as soon as they exist, as the Kafka
   * runtime does, so this is empty once every aggregate type has published.
   */
  readonly waitingForTopics: readonly string[];
}

interface Member {
  consumer: InMemoryConsumer;
  readonly projection: AnyProjection;
  readonly applier: ProjectionApplier<ProjectionContext>;
  /** Topics of the projection that did not exist when the member last subscribed. */
  missing: readonly string[];
}

/**
 * The projection runtime on the {@link InMemoryKafkaLog}: the same projection definitions
 * and the same exactly-once applier as the Kafka runtime (one transaction per partition
 * batch, checkpoint row locked and moved in it, seek to the stored checkpoint on
 * assignment), driven by explicit `poll` calls so tests are deterministic.
 *
 * Faults can be injected: {@link crashAt} makes a member die at a named point (its
 * transaction rolls back if it was open, its Kafka offsets are not committed) and a fresh
 * member replaces it, which re-reads from the group's committed offsets — the redelivery
 * a real crash causes.
 */
export class InMemoryProjectionRuntime {
  /** The resolved runtime configuration (defaults filled in). */
  readonly config: ProjectionRuntimeConfig;
  readonly store: PostgresProjectionStore;
  readonly instrumentation: Instrumentation<ProjectionInstrumentationEvents>;
  readonly #options: InMemoryProjectionRuntimeOptions;
  readonly #faults = new FaultInjector([], (plan) => {
    throw new SimulatedCrash(plan.point);
  });
  readonly #members: Member[] = [];
  #started = false;

  constructor(options: InMemoryProjectionRuntimeOptions) {
    this.#options = options;
    for (const projection of options.projections) validateProjection(projection);
    this.config = resolveProjectionRuntimeConfig(options.config);
    this.store = new PostgresProjectionStore(options.knex, this.config);
    this.instrumentation =
      options.instrumentation ?? createInstrumentation<ProjectionInstrumentationEvents>();
  }

  /** Creates the runtime tables, migrates and registers every projection, joins the groups. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.store.ensureSchema();
    for (const projection of this.#options.projections) {
      await this.store.prepare(projection);
      const applier = new ProjectionApplier({
        store: this.store,
        projection,
        config: this.config,
        upcasters: this.#options.upcasters ?? new UpcasterChain(),
        instrumentation: this.instrumentation,
        faults: this.#faults,
        sleep: () => Promise.resolve(),
        deadLetter: this.#options.deadLetter ?? this.#deadLetterToLog(),
      });
      for (let index = 0; index < (this.#options.consumersPerProjection ?? 1); index += 1) {
        this.#members.push({ projection, applier, ...(await this.#join(projection)) });
      }
    }
  }

  /**
   * Makes the next batch that reaches `point` crash. `after-handlers`: the batch's handlers
   * ran and the checkpoint was updated, but the transaction never commits. `after-commit`:
   * the transaction committed, the Kafka offset commit never happens.
   */
  crashAt(point: Extract<FaultPoint, 'after-handlers' | 'after-commit'>, inBatches = 1): void {
    this.#faults.add({ point, signal: 'SIGKILL', inHits: inBatches });
  }

  /** Adds a member to a projection's group (a rebalance). */
  async addMember(projectionName: string): Promise<void> {
    const existing = this.#members.find((member) => member.projection.name === projectionName);
    if (existing === undefined) throw new Error(`Unknown projection "${projectionName}"`);
    this.#members.push({ ...existing, ...(await this.#join(existing.projection)) });
  }

  /**
   * Polls every member once and applies what it got, one transaction per partition batch.
   *
   * @throws the applier's fatal errors (ordering violation under `fail`, poison under `stop`).
   */
  async runOnce(): Promise<RunSummary> {
    let delivered = 0;
    let applied = 0;
    let skipped = 0;
    let crashes = 0;
    const waiting = new Set<string>();
    for (const member of this.#members) {
      await this.#subscribeToNewTopics(member);
      for (const topic of member.missing) waiting.add(topic);
      const batches = await member.consumer.poll();
      for (const batch of batches) {
        const records: SourceRecord[] = batch.records.map((record) => ({
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          key: record.key,
          value: record.value,
          headers: record.headers,
        }));
        delivered += records.length;
        try {
          const outcome = await member.applier.applyBatch(records);
          applied += outcome.applied;
          skipped += outcome.skipped;
          this.#faults.hit('after-commit');
          await member.consumer.commitOffsets([
            { topic: batch.topic, partition: batch.partition, offset: outcome.nextOffset },
          ]);
        } catch (error) {
          if (!isSimulatedCrash(error)) throw error;
          crashes += 1;
          // The member dies: no offset commit, no graceful hand-over. A fresh member joins
          // and reads again from the group's committed offsets.
          await member.consumer.disconnect();
          Object.assign(member, await this.#join(member.projection));
          break;
        }
      }
    }
    return { delivered, applied, skipped, crashes, waitingForTopics: [...waiting].sort() };
  }

  /**
   * Runs until a poll round delivers nothing (crashed members are replaced on the way).
   *
   * @throws the applier's fatal errors.
   */
  async runUntilIdle(maxRounds = 10_000): Promise<RunSummary> {
    const total = { delivered: 0, applied: 0, skipped: 0, crashes: 0 };
    for (let round = 0; round < maxRounds; round += 1) {
      const summary = await this.runOnce();
      total.delivered += summary.delivered;
      total.applied += summary.applied;
      total.skipped += summary.skipped;
      total.crashes += summary.crashes;
      if (summary.delivered === 0 && summary.crashes === 0)
        return { ...total, waitingForTopics: summary.waitingForTopics };
    }
    throw new Error(`Projections still busy after ${maxRounds} rounds`);
  }

  /**
   * Read-your-writes, as on the Kafka runtime: resolves when `projection` has applied the
   * command behind `consistencyToken`. Nothing runs this runtime in the background, so it
   * polls the log itself (one {@link runOnce} round per read).
   *
   * @throws ConsistencyTimeoutError after `timeoutMs` (default 5 s); the applier's fatal errors.
   */
  async waitFor(
    projection: string,
    consistencyToken: string,
    options: WaitForOptions = {},
  ): Promise<void> {
    await waitForProjection(
      this.store,
      runningProjection(this.#options.projections, projection),
      consistencyToken,
      {
        pollMs: 0,
        ...options,
        beforeRead: async () => {
          await this.runOnce();
        },
      },
    );
  }

  /** Leaves the groups. The knex instance stays open (the caller owns it). */
  async stop(): Promise<void> {
    for (const member of this.#members) await member.consumer.disconnect();
    this.#members.length = 0;
    this.#started = false;
  }

  #deadLetterToLog(): DeadLetterPublisher {
    const log = this.#options.log;
    const producer = log.producer();
    return async (record, context) => {
      const topic = deadLetterTopicFor(this.config, context.projection.name);
      if (!log.listTopics().includes(topic)) log.createTopic(topic, { partitions: 1 });
      await producer.connect();
      await producer.send({
        topic,
        messages: [
          {
            key: record.key,
            value: record.value,
            headers: { ...headersAsStrings(record.headers), ...deadLetterHeaders(record, context) },
          },
        ],
      });
    };
  }

  /**
   * Subscribes a member to those of its missing topics that exist now (the Kafka runtime
   * polls the broker's topic list the same way under `missingTopics: 'wait'`).
   */
  async #subscribeToNewTopics(member: Member): Promise<void> {
    if (member.missing.length === 0) return;
    const existing = new Set(this.#options.log.listTopics());
    const appeared = member.missing.filter((topic) => existing.has(topic));
    if (appeared.length === 0) return;
    await member.consumer.subscribe({ topics: appeared, fromBeginning: true });
    member.missing = member.missing.filter((topic) => !existing.has(topic));
  }

  /**
   * A new group member for `projection`, subscribed to its existing topics. Missing topics
   * are created under `missingTopics: 'create'` (with `topicPartitions` partitions, as the
   * Kafka runtime does) and otherwise remembered until they appear.
   */
  async #join(
    projection: AnyProjection,
  ): Promise<{ consumer: InMemoryConsumer; missing: readonly string[] }> {
    const config = this.config;
    const log = this.#options.log;
    const consumer: InMemoryConsumer = log.consumer({
      groupId: groupIdFor(config, projection),
      maxPollRecords: config.maxBatchRecords,
      onPartitionsAssigned: async (partitions) => {
        if (this.#options.seekOnAssignment === false) return;
        // As the Kafka runtime does: the database checkpoint, not Kafka, says where to start.
        const stored = await this.store.checkpoints(projection.name, projection.version);
        for (const { topic, partition } of partitions) {
          const found = stored.find((row) => row.topic === topic && row.partition === partition);
          consumer.seek({ topic, partition, offset: found?.nextOffset ?? 0 });
        }
      },
    });
    const topics = projection.aggregateTypes.map((aggregateType) =>
      topicFor(config, aggregateType),
    );
    if (config.missingTopics === 'create') {
      const existing = new Set(log.listTopics());
      for (const topic of topics) {
        if (!existing.has(topic)) log.createTopic(topic, { partitions: config.topicPartitions });
      }
    }
    const existing = new Set(log.listTopics());
    await consumer.subscribe({
      topics: topics.filter((topic) => existing.has(topic)),
      fromBeginning: true,
    });
    return { consumer, missing: topics.filter((topic) => !existing.has(topic)) };
  }
}
