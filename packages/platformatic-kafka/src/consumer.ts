/**
 * The consumer is a fetch loop of its own over the library's group membership: the library's
 * `MessagesStream` has no per-partition pause, seek or batch delivery and mishandles some
 * aborted transactions (see internal/read-committed.ts), while its `Consumer` joins the group,
 * heartbeats in the background, rejoins after a rebalance and fetches, lists and commits
 * offsets, which is all this needs. Longer than most files because positions, pauses,
 * seeks, staleness and the replacement of the library consumer (internal/coordinator.ts) are
 * one state machine that reads best in one place.
 */
import type {
  KafkaBatch,
  KafkaConsumer,
  KafkaConsumerOptions,
  KafkaRunOptions,
  KafkaTopicPartition,
  KafkaTopicPartitionOffset,
  Logger,
} from '@tributary/core';
import {
  FetchIsolationLevels,
  ListOffsetTimestamps,
  type GroupAssignment,
} from '@platformatic/kafka';
import { kafkaErrorNames, requestError, securityFailure, translated } from './errors.js';
import type { ConnectionSettings } from './internal/connection.js';
import { CoordinatorAwareConsumer, coordinatorLost, retire } from './internal/coordinator.js';
import { planFetches } from './internal/fetch-plan.js';
import type { TlsRequiredDetector } from './internal/tls-required.js';
import { visibleRecords } from './internal/read-committed.js';

/** Consumer defaults (kafkajs's, so that both clients behave alike unless configured). */
export /** The protocol name of kafkajs's round-robin assigner, which both clients announce. */
const KAFKAJS_ROUND_ROBIN = 'RoundRobinAssigner';

const consumerDefaults = {
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  rebalanceTimeoutMs: 60_000,
  maxWaitTimeMs: 5_000,
  maxBytes: 10_485_760,
  maxBytesPerPartition: 1_048_576,
  /** Pause of a partition after its handler threw, doubled per failure in a row. */
  failureBackoffMs: 100,
  maxFailureBackoffMs: 5_000,
} as const;

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** A batch ready for its handler, with what decides its staleness. */
interface Fetched {
  readonly tp: KafkaTopicPartition;
  readonly records: KafkaBatch['records'];
  readonly lastOffset: bigint;
  readonly highWatermark: bigint;
}

/**
 * A {@link KafkaConsumer} on @platformatic/kafka: `read_committed`, no topic auto-creation,
 * no auto-commit; positions come from the group's committed offsets after every assignment
 * (eager: a rebalance revokes everything), else from the subscription's `fromBeginning`,
 * unless a `seek` says otherwise. Heartbeats run in the background, so a handler that keeps
 * the event loop free never loses the membership; `heartbeat()` has nothing to do. When the
 * group coordinator moves (its broker died), the library consumer is replaced by a new one,
 * which finds the new coordinator (see internal/coordinator.ts): a rebalance, no exit.
 */
export class PlatformaticConsumer implements KafkaConsumer {
  #consumer: CoordinatorAwareConsumer;
  readonly #connection: ConnectionSettings;
  readonly #options: KafkaConsumerOptions;
  readonly #logger: Logger | undefined;
  readonly #tlsRequired: TlsRequiredDetector;
  #topics: string[] = [];
  #fromBeginning = false;
  #assigned: KafkaTopicPartition[] = [];
  /** Bumped on every assignment and revocation: batches of an older epoch are stale. */
  #epoch = 0;
  readonly #positions = new Map<string, bigint>();
  readonly #seeks = new Map<string, number>();
  readonly #paused = new Set<string>();
  readonly #failures = new Map<string, { count: number; until: number }>();
  #running = false;
  #onFatalError: ((error: Error) => void) | undefined;
  #needsRejoin = false;
  /** The coordinator the library consumer knows is gone or moved: replace the consumer. */
  #needsRenewal = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;

  constructor(connection: ConnectionSettings, options: KafkaConsumerOptions) {
    this.#connection = connection;
    this.#options = options;
    this.#logger = connection.logger;
    this.#tlsRequired = connection.tlsRequired;
    this.#consumer = this.#createConsumer();
  }

  /** A library consumer whose events reach this adapter only while it is the current one. */
  #createConsumer(): CoordinatorAwareConsumer {
    const options = this.#options;
    const consumer = new CoordinatorAwareConsumer({
      ...this.#connection.base,
      groupId: options.groupId,
      autocommit: false,
      autocreateTopics: false,
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      sessionTimeout: options.sessionTimeoutMs ?? consumerDefaults.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs ?? consumerDefaults.heartbeatIntervalMs,
      rebalanceTimeout: consumerDefaults.rebalanceTimeoutMs,
      // A JoinGroup is answered only when the rebalance completes, which may take up to the
      // rebalance timeout (as kafkajs, which gives JoinGroup that much plus 5 s).
      requestTimeout: consumerDefaults.rebalanceTimeoutMs + 5_000,
      maxWaitTime: options.maxWaitTimeMs ?? consumerDefaults.maxWaitTimeMs,
      maxBytes: consumerDefaults.maxBytes,
      // The broker admits a member only if it offers a protocol every member offers. Offering
      // kafkajs's name for round-robin (same subscription and assignment encoding) lets members
      // on both clients share a group while a deployment switches clients by rolling restart;
      // the library's own name, 'roundrobin', made the second client's members fail to join.
      protocols: [{ name: KAFKAJS_ROUND_ROBIN, version: 0, metadata: Buffer.alloc(0) }],
    });
    const current = (): boolean => consumer === this.#consumer;
    // Synchronous listeners: they run before the fetch loop sees the new assignment.
    consumer.on('consumer:group:join', (payload) => {
      if (current()) this.#assign(payload.assignments ?? []);
    });
    consumer.on('consumer:group:rebalance', () => {
      if (current()) this.#revoke();
    });
    // @platformatic/kafka 1.35.0 stops heartbeating after a heartbeat that failed with
    // anything but a rejoin error (it cancels its timer, then refreshes the cancelled one):
    // left alone, the member would silently lose the group after its session timeout. Such a
    // failure is mostly the coordinator's broker gone, so a new consumer finds it again.
    consumer.on('consumer:heartbeat:error', (payload) => {
      if (current()) this.#renewSoon('the heartbeat failed', payload.error);
    });
    // The library reports a failed background rejoin here (an unhandled 'error' would throw).
    consumer.on('error', (error: unknown) => {
      if (!current() || this.#failedForGood(error, 'rejoining the consumer group')) return;
      this.#logger?.debug('kafka group rejoin failed; retrying', {
        groupId: options.groupId,
        error,
      });
      this.#revoke();
      if (coordinatorLost(error)) this.#renewSoon('the group coordinator moved', error);
      else this.#needsRejoin = true;
      this.#wake?.();
    });
    return consumer;
  }

  /** Has the fetch loop replace the library consumer (the only way to a new coordinator). */
  #renewSoon(reason: string, error: unknown): void {
    if (!this.#running) return;
    if (!this.#needsRenewal) {
      this.#logger?.warn(`kafka consumer replaced: ${reason}`, {
        groupId: this.#options.groupId,
        coordinator: this.#consumer.coordinatorId,
        error,
      });
    }
    this.#needsRenewal = true;
    this.#wake?.();
  }

  /**
   * Replaces the library consumer by a new one, which joins the group afresh (the fetch loop
   * rejoins next). The old one leaves the group at the real coordinator, so that the group
   * rebalances at once instead of waiting for its session to expire.
   */
  async #renew(): Promise<void> {
    const stale = this.#consumer;
    this.#revoke();
    const fresh = this.#createConsumer();
    this.#consumer = fresh;
    for (const topic of this.#topics) fresh.topics.track(topic);
    await retire(stale, fresh, this.#topics, this.#logger);
  }

  #assign(assignments: readonly GroupAssignment[]): void {
    this.#revoke();
    const assigned: KafkaTopicPartition[] = [];
    for (const { topic, partitions } of assignments) {
      for (const partition of partitions) assigned.push({ topic, partition });
    }
    this.#assigned = assigned;
    this.#epoch += 1;
    this.#positions.clear();
    this.#failures.clear();
    this.#options.onPartitionsAssigned?.(assigned);
    this.#wake?.();
  }

  #revoke(): void {
    const revoked = this.#assigned;
    this.#assigned = [];
    this.#epoch += 1;
    if (revoked.length > 0) this.#options.onPartitionsRevoked?.(revoked);
  }

  connect(): Promise<void> {
    return this.#tlsRequired.connect(
      () =>
        translated(
          async () => {
            await this.#consumer.connectToBrokers(null);
          },
          (error) => requestError(error, 'connecting the consumer'),
        ),
      'connecting the consumer',
    );
  }

  subscribe(
    topics: readonly string[],
    options: { readonly fromBeginning?: boolean } = {},
  ): Promise<void> {
    return translated(
      async () => {
        // Fails with UNKNOWN_TOPIC_OR_PARTITION for a missing topic (never auto-created).
        await this.#consumer.metadata({ topics: [...topics], autocreateTopics: false });
        this.#topics = [...new Set([...this.#topics, ...topics])];
        this.#fromBeginning = options.fromBeginning ?? false;
      },
      (error) => requestError(error, 'subscribing'),
    );
  }

  async run(options: KafkaRunOptions): Promise<void> {
    for (const topic of this.#topics) this.#consumer.topics.track(topic);
    this.#running = true;
    this.#onFatalError = options.onFatalError;
    await translated(
      () => this.#consumer.joinGroup({}),
      (error) => {
        this.#running = false;
        return requestError(error, 'joining the consumer group');
      },
    );
    this.#loop = this.#fetchLoop(options.eachBatch, options.partitionsConsumedConcurrently ?? 1);
  }

  seek(position: KafkaTopicPartitionOffset): void {
    const id = key(position.topic, position.partition);
    if (
      !this.#assigned.some(
        (tp) => tp.topic === position.topic && tp.partition === position.partition,
      )
    ) {
      this.#logger?.debug('seek on a partition not assigned to this member ignored', {
        topic: position.topic,
        partition: position.partition,
      });
      return;
    }
    this.#positions.set(id, position.offset);
    this.#seeks.set(id, (this.#seeks.get(id) ?? 0) + 1);
    this.#failures.delete(id);
    this.#wake?.();
  }

  pause(partitions: readonly KafkaTopicPartition[]): void {
    for (const { topic, partition } of partitions) this.#paused.add(key(topic, partition));
  }

  resume(partitions: readonly KafkaTopicPartition[]): void {
    for (const { topic, partition } of partitions) this.#paused.delete(key(topic, partition));
    this.#wake?.();
  }

  commitOffsets(offsets: readonly KafkaTopicPartitionOffset[]): Promise<void> {
    const consumer = this.#consumer;
    return translated(
      () =>
        consumer.commit({
          offsets: offsets.map(({ topic, partition, offset }) => ({
            topic,
            partition,
            offset,
            leaderEpoch: -1,
          })),
        }),
      (error) => {
        if (consumer === this.#consumer && coordinatorLost(error))
          this.#renewSoon('the group coordinator moved', error);
        return requestError(error, 'committing offsets');
      },
    );
  }

  async disconnect(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    // Leaves the group (a prompt rebalance for the others) and closes the connections.
    await this.#consumer.close().catch((error: unknown) => {
      this.#logger?.debug('kafka consumer close failed', { groupId: this.#options.groupId, error });
    });
    this.#revoke();
  }

  /**
   * A security failure in the background (a revoked group or topic ACL, refused credentials
   * on a reconnect) fails every retry the same way: the consumer stops and reports it once
   * through `onFatalError` instead of retrying forever.
   */
  #failedForGood(error: unknown, what: string): boolean {
    const security = securityFailure(error, what);
    if (security === undefined || !this.#running) return false;
    this.#running = false;
    this.#revoke();
    this.#wake?.();
    this.#onFatalError?.(security);
    return true;
  }

  /** Waits until woken (resume, seek, assignment, stop) or `ms` passed. */
  async #idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
  }

  async #fetchLoop(eachBatch: KafkaRunOptions['eachBatch'], concurrency: number): Promise<void> {
    let failures = 0;
    while (this.#running) {
      try {
        if (this.#needsRenewal) {
          this.#needsRenewal = false;
          this.#needsRejoin = true;
          await this.#renew();
        }
        if (this.#needsRejoin) {
          await this.#consumer.joinGroup({});
          // Only now: a join that failed (a broker down) is tried again.
          this.#needsRejoin = false;
        }
        const delivered = await this.#fetchOnce(eachBatch, concurrency);
        failures = 0;
        if (!delivered) await this.#idle(100);
      } catch (error) {
        if (!this.#running) break;
        if (this.#failedForGood(error, 'consuming')) break;
        failures += 1;
        if (coordinatorLost(error)) this.#renewSoon('the group coordinator moved', error);
        else if (
          kafkaErrorNames(error).has('UNKNOWN_MEMBER_ID') ||
          kafkaErrorNames(error).has('ILLEGAL_GENERATION')
        )
          this.#needsRejoin = true;
        this.#logger?.debug('kafka fetch failed; retrying', {
          groupId: this.#options.groupId,
          error,
        });
        await this.#idle(Math.min(100 * 2 ** failures, 5_000));
      }
    }
  }

  /** One round: resolve positions, fetch every fetchable partition, hand the batches over. */
  async #fetchOnce(eachBatch: KafkaRunOptions['eachBatch'], concurrency: number): Promise<boolean> {
    const epoch = this.#epoch;
    const now = Date.now();
    const fetchable = this.#assigned.filter(({ topic, partition }) => {
      const id = key(topic, partition);
      return !this.#paused.has(id) && (this.#failures.get(id)?.until ?? 0) <= now;
    });
    if (fetchable.length === 0) return false;
    await this.#resolvePositions(
      fetchable.filter((tp) => !this.#positions.has(key(tp.topic, tp.partition))),
    );
    if (epoch !== this.#epoch) return true;
    const metadata = await this.#consumer.metadata({ topics: this.#topics });
    const requested = new Map<string, { offset: bigint; seeks: number }>();
    const targets = [];
    for (const { topic, partition } of fetchable) {
      const offset = this.#positions.get(key(topic, partition));
      if (offset !== undefined) targets.push({ topic, partition, offset });
    }
    const { byLeader, topicNames, planned } = planFetches(
      targets,
      metadata,
      consumerDefaults.maxBytesPerPartition,
    );
    for (const { topic, partition, offset } of planned) {
      const id = key(topic, partition);
      requested.set(id, { offset, seeks: this.#seeks.get(id) ?? 0 });
    }
    const responses = await Promise.all(
      [...byLeader].map(([node, topics]) => this.#consumer.fetch({ node, topics })),
    );
    const batches: Fetched[] = [];
    for (const response of responses) {
      for (const topicResponse of response.responses) {
        const topic = topicNames.get(topicResponse.topicId);
        if (topic === undefined) continue;
        for (const fetched of topicResponse.partitions) {
          const id = key(topic, fetched.partitionIndex);
          const asked = requested.get(id);
          // A seek, a pause or a new assignment since the request makes the answer obsolete.
          if (asked === undefined || epoch !== this.#epoch || this.#paused.has(id)) continue;
          if ((this.#seeks.get(id) ?? 0) !== asked.seeks) continue;
          const visible = visibleRecords(
            topic,
            fetched.partitionIndex,
            asked.offset,
            fetched.records ?? [],
            fetched.abortedTransactions,
          );
          if (visible.lastOffset < asked.offset) continue;
          if (visible.records.length === 0) {
            // Only transaction markers or aborted records: move past them.
            this.#positions.set(id, visible.lastOffset + 1n);
            continue;
          }
          batches.push({
            tp: { topic, partition: fetched.partitionIndex },
            records: visible.records,
            lastOffset: visible.lastOffset,
            highWatermark: fetched.highWatermark,
          });
        }
      }
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let batch = batches[next++]; batch !== undefined; batch = batches[next++]) {
        await this.#deliver(batch, epoch, eachBatch);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
    return batches.length > 0 || requested.size > 0;
  }

  async #deliver(
    fetched: Fetched,
    epoch: number,
    eachBatch: KafkaRunOptions['eachBatch'],
  ): Promise<void> {
    const { topic, partition } = fetched.tp;
    const id = key(topic, partition);
    const seeks = this.#seeks.get(id) ?? 0;
    const stale = (): boolean => epoch !== this.#epoch || (this.#seeks.get(id) ?? 0) !== seeks;
    if (stale() || !this.#running) return;
    const lastRecord = fetched.records[fetched.records.length - 1]?.offset ?? fetched.lastOffset;
    let resolved: bigint | undefined;
    let failure: unknown;
    try {
      await eachBatch({
        topic,
        partition,
        records: fetched.records,
        lastOffset: fetched.lastOffset,
        highWatermark: fetched.highWatermark,
        resolveOffset: (offset) => {
          if (resolved === undefined || offset > resolved) resolved = offset;
        },
        heartbeat: () => Promise.resolve(),
        isRunning: () => this.#running,
        isStale: stale,
      });
    } catch (error) {
      failure = error;
    }
    if (stale()) return;
    if (resolved !== undefined) {
      // Resolving the last record also covers the markers the fetch saw after it.
      this.#positions.set(id, resolved >= lastRecord ? fetched.lastOffset + 1n : resolved + 1n);
    }
    if (failure === undefined) {
      this.#failures.delete(id);
      return;
    }
    // The unresolved records come again, after a pause that grows while the handler fails.
    const count = (this.#failures.get(id)?.count ?? 0) + 1;
    const backoff = Math.min(
      consumerDefaults.failureBackoffMs * 2 ** (count - 1),
      consumerDefaults.maxFailureBackoffMs,
    );
    this.#failures.set(id, { count, until: Date.now() + backoff });
    this.#logger?.debug('kafka batch handler failed; delivering again', {
      topic,
      partition,
      backoffMs: backoff,
      error: failure,
    });
  }

  /** Committed offsets of the group, else the earliest or latest offset. */
  async #resolvePositions(partitions: readonly KafkaTopicPartition[]): Promise<void> {
    if (partitions.length === 0) return;
    const epoch = this.#epoch;
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions)
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const committed = await this.#consumer.listCommittedOffsets({
      topics: [...byTopic].map(([topic, list]) => ({ topic, partitions: list })),
    });
    const missing = partitions.filter(
      ({ topic, partition }) => (committed.get(topic)?.[partition] ?? -1n) < 0n,
    );
    const fallback =
      missing.length === 0
        ? new Map<string, bigint[]>()
        : await this.#consumer.listOffsets({
            topics: [...new Set(missing.map((tp) => tp.topic))],
            timestamp: this.#fromBeginning
              ? ListOffsetTimestamps.EARLIEST
              : ListOffsetTimestamps.LATEST,
            isolationLevel: FetchIsolationLevels.READ_COMMITTED,
          });
    // A seek or a new assignment while these were read wins over them.
    if (epoch !== this.#epoch) return;
    for (const { topic, partition } of partitions) {
      const id = key(topic, partition);
      if (this.#positions.has(id)) continue;
      const offset = committed.get(topic)?.[partition] ?? -1n;
      this.#positions.set(id, offset >= 0n ? offset : (fallback.get(topic)?.[partition] ?? 0n));
    }
  }
}
