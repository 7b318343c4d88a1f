/**
 * The WAL capturer: guardrails, slot acquisition (or standby), fencing, checkpoint,
 * streaming, heartbeats, progress logs, restarts and graceful shutdown.
 *
 * Order of a run, and why:
 * 1. Check wal_level, the publication and the slot (create them if allowed; a missing slot
 *    with an existing checkpoint is a lost slot and halts).
 * 2. Take the slot (START_REPLICATION). While another instance holds it, wait: standby.
 * 3. Only then connect the transactional producer, which fences older instances. Doing it
 *    before holding the slot would let a standby fence the healthy active instance.
 * 4. Only then read the checkpoint (read_committed): after fencing, no zombie can commit
 *    past it any more.
 * 5. Stream: transactions at or below the checkpoint are skipped, the rest published; LSNs
 *    are confirmed after each Kafka commit.
 * Any retriable failure tears the run down and starts again at 1 with a fresh producer and
 * a fresh checkpoint; a non-retriable one halts the capturer.
 */
import {
  createInstrumentation,
  isRetriableError,
  isTributaryError,
  type Instrumentation,
  type KafkaClient,
} from '@tributary/core';
import pg from 'pg';
import type { CaptureConfig } from './config.js';
import { noCrashPoints, type CrashPoints } from './crash-points.js';
import { CaptureError } from './errors.js';
import type { CaptureEvents } from './events.js';
import { KafkaCaptureSink } from './kafka/kafka-sink.js';
import { silentLogger, type CaptureLogger } from './logger.js';
import { formatLsn, parseLsn } from './lsn.js';
import { PgoutputSource, SlotBusyError } from './postgres/pgoutput-source.js';
import { CapturePipeline, type PayloadEncoder } from './pipeline.js';
import { createOutboxRouter } from './router.js';
import type { CaptureSink } from './sink.js';
import {
  assertLogicalWal,
  assertSlotUsable,
  ensurePublication,
  ensureSlot,
  inspectSlot,
} from './postgres/slot.js';

/** Options of {@link createCapturer}. */
export interface CapturerOptions {
  /** The resolved configuration (see `resolveCaptureConfig`). */
  readonly config: CaptureConfig;
  /** The Kafka client (e.g. `createKafkajsClient` of `@tributary/kafkajs`). */
  readonly kafka: KafkaClient;
  /** Default: silent. The CLI passes a console logger. */
  readonly logger?: CaptureLogger;
  /** Test hook for crash tests; default none. */
  readonly crashPoints?: CrashPoints;
  /** Instrumentation to emit into; default a new one (see {@link Capturer.instrumentation}). */
  readonly instrumentation?: Instrumentation<CaptureEvents>;
  /**
   * Encodes payloads, e.g. `createRegistryEncoder(...)` for the schema registry wire
   * format. Default: the payload JSON as stored.
   */
  readonly payloadEncoder?: PayloadEncoder;
}

/** Where a capturer is in its life. */
export type CapturerState = 'starting' | 'standby' | 'streaming' | 'restarting' | 'stopped';

/** A running WAL capturer. */
export interface Capturer {
  /** Typed events (`capture.batch.committed`, `capture.standby`, …). */
  readonly instrumentation: Instrumentation<CaptureEvents>;
  /** Current state. */
  readonly state: CapturerState;
  /** Events published since start (all pipeline runs). */
  readonly publishedEvents: number;
  /**
   * Runs until {@link stop} (resolves) or a non-retriable error (rejects with it).
   * Call once.
   */
  run(): Promise<void>;
  /**
   * Graceful stop: finishes the Kafka transaction in flight and the pending batch,
   * confirms their LSN to PostgreSQL, then closes everything. Resolves when `run` has ended.
   */
  stop(): Promise<void>;
}

/** Creates a capturer; nothing connects until {@link Capturer.run}. */
export function createCapturer(options: CapturerOptions): Capturer {
  return new WalCapturer(options);
}

/**
 * Tributary errors say whether they are retriable; anything else (a dropped connection, a
 * DNS failure, a kafkajs error that escaped classification) restarts the pipeline, which is
 * always safe because a run starts from the Kafka checkpoint.
 */
function shouldRestart(error: unknown): boolean {
  return isTributaryError(error) ? isRetriableError(error) : true;
}

const sleep = (ms: number, interrupt: Promise<unknown>): Promise<unknown> =>
  Promise.race([
    new Promise((resolve) => {
      setTimeout(resolve, ms).unref();
    }),
    interrupt,
  ]);

class WalCapturer implements Capturer {
  readonly instrumentation: Instrumentation<CaptureEvents>;
  readonly #config: CaptureConfig;
  readonly #kafka: KafkaClient;
  readonly #logger: CaptureLogger;
  readonly #crash: CrashPoints;
  readonly #payloadEncoder: PayloadEncoder | undefined;
  readonly #knownTopics = new Set<string>();
  #state: CapturerState = 'starting';
  #stopRequested = false;
  #requestStop: () => void = () => undefined;
  readonly #stopSignal: Promise<'stop'>;
  #running: Promise<void> | undefined;
  #published = 0;
  #lastProgress = { at: performance.now(), events: 0 };

  constructor(options: CapturerOptions) {
    this.#config = options.config;
    this.#kafka = options.kafka;
    this.#logger = options.logger ?? silentLogger;
    this.#crash = options.crashPoints ?? noCrashPoints;
    this.#payloadEncoder = options.payloadEncoder;
    this.instrumentation = options.instrumentation ?? createInstrumentation<CaptureEvents>();
    this.#stopSignal = new Promise((resolve) => {
      this.#requestStop = () => resolve('stop');
    });
  }

  get state(): CapturerState {
    return this.#state;
  }

  get publishedEvents(): number {
    return this.#published;
  }

  run(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopRequested = true;
    this.#requestStop();
    await this.#running?.catch(() => undefined);
  }

  async #run(): Promise<void> {
    const initialBackoff = this.#config.restartBackoffMs;
    let backoff = initialBackoff;
    try {
      while (!this.#stopRequested) {
        const publishedBefore = this.#published;
        try {
          await this.#runOnce();
          break;
        } catch (error) {
          if (this.#stopRequested) break;
          if (!shouldRestart(error)) throw error;
          if (this.#published > publishedBefore) backoff = initialBackoff;
          const code = isTributaryError(error) ? error.code : null;
          this.#state = 'restarting';
          this.#logger.warn('capture pipeline failed; restarting from the Kafka checkpoint', {
            error: error instanceof Error ? error.message : String(error),
            code,
            delayMs: backoff,
          });
          this.instrumentation.emit('capture.pipeline.restarting', () => ({
            error: error instanceof Error ? error.message : String(error),
            code,
            delayMs: backoff,
          }));
          await sleep(backoff, this.#stopSignal);
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
      this.#state = 'stopped';
      this.instrumentation.emit('capture.stopped', { reason: 'stopped', error: null });
      this.#logger.info('capturer stopped', { events: this.#published });
    } catch (error) {
      this.#state = 'stopped';
      this.instrumentation.emit('capture.stopped', () => ({
        reason: 'halted',
        error: error instanceof Error ? error.message : String(error),
      }));
      throw error;
    }
  }

  async #runOnce(): Promise<void> {
    const config = this.#config;
    const logger = this.#logger;
    const admin = new pg.Client({
      connectionString: config.databaseUrl,
      application_name: `tributary-capture-admin:${config.name}`,
    });
    let adminFailure: ((error: unknown) => void) | undefined;
    const adminBroken = new Promise<never>((_resolve, reject) => {
      adminFailure = reject;
    });
    adminBroken.catch(() => undefined);
    admin.on('error', (error) => {
      adminFailure?.(
        new CaptureError('CAPTURE_STREAM_ENDED', `PostgreSQL connection failed: ${error.message}`, {
          retriable: true,
          cause: error,
        }),
      );
    });
    const sink = new KafkaCaptureSink({
      client: this.#kafka,
      config,
      logger,
      crashPoints: this.#crash,
      knownTopics: this.#knownTopics,
    });
    let source: PgoutputSource | undefined;
    let pipeline: CapturePipeline | undefined;
    const timers: NodeJS.Timeout[] = [];
    let graceful = false;
    try {
      await admin.connect();
      await assertLogicalWal(admin);
      await ensurePublication(admin, config.slot, config.outbox, logger);
      await sink.prepare();
      const existing = await inspectSlot(admin, config.slot.name);
      // The checkpoint is read here only to tell a first start from a lost slot.
      const priorCheckpoint = existing === undefined ? await sink.readCheckpoint() : undefined;
      await ensureSlot(
        admin,
        config.slot,
        config.outbox,
        {
          checkpoint: priorCheckpoint,
          capturer: config.name,
        },
        logger,
      );

      // Take the slot, or wait for it.
      let announced = false;
      for (;;) {
        if (this.#stopRequested) return;
        const state = await inspectSlot(admin, config.slot.name);
        if (state === undefined) {
          throw new CaptureError(
            'CAPTURE_SLOT_LOST',
            `Replication slot ${config.slot.name} disappeared while this capturer was using or waiting for it; it is never recreated silently`,
          );
        }
        await assertSlotUsable(admin, state);
        if (!state.active) {
          const candidatePipeline = this.#newPipeline(sink);
          const candidate = new PgoutputSource({
            databaseUrl: config.databaseUrl,
            slot: config.slot.name,
            publication: config.slot.publication,
            schema: config.outbox.schema,
            table: config.outbox.eventsTable,
            heartbeatPrefix: config.heartbeatPrefix,
            walSenderTimeoutMs: config.walSenderTimeoutMs,
            initialConfirmed: state.confirmedFlushLsn ?? 0n,
            logger,
          });
          try {
            await candidate.start(candidatePipeline);
            source = candidate;
            pipeline = candidatePipeline;
            break;
          } catch (error) {
            candidatePipeline.dispose();
            await candidate.stop().catch(() => undefined);
            if (!(error instanceof SlotBusyError)) throw error;
          }
        }
        if (!announced) {
          announced = true;
          this.#state = 'standby';
          logger.info(
            'standby: another instance holds the replication slot; waiting to take over',
            {
              slot: config.slot.name,
              activePid: state.activePid,
            },
          );
          this.instrumentation.emit('capture.standby', {
            slot: config.slot.name,
            activePid: state.activePid,
          });
        }
        await sleep(config.standbyRetryMs, this.#stopSignal);
      }
      logger.info('acquired replication slot', {
        slot: config.slot.name,
        confirmedLsn: formatLsn(source.confirmed),
      });
      this.instrumentation.emit('capture.slot.acquired', () => ({
        slot: config.slot.name,
        confirmedLsn: formatLsn((source as PgoutputSource).confirmed),
      }));

      // Fence older instances, then read the checkpoint they can no longer move.
      await sink.connect();
      const checkpoint = await sink.readCheckpoint();
      logger.info('loaded Kafka checkpoint', {
        commitLsn: checkpoint === undefined ? null : formatLsn(checkpoint),
        topic: config.topics.checkpointTopic,
      });
      this.instrumentation.emit('capture.checkpoint.loaded', {
        commitLsn: checkpoint === undefined ? null : formatLsn(checkpoint),
      });
      pipeline.begin(source, checkpoint);
      this.#state = 'streaming';

      const running = { pipeline, source };
      if (config.heartbeatIntervalMs > 0) {
        timers.push(
          setInterval(() => {
            // A WAL record in this database that the slot must decode: while the outbox is
            // idle, confirming it lets the slot release WAL that other tables wrote.
            admin
              .query('select pg_logical_emit_message(false, $1, $2)', [
                config.heartbeatPrefix,
                config.name,
              ])
              .catch((error: unknown) => {
                logger.warn('heartbeat failed', { error: String(error) });
              });
          }, config.heartbeatIntervalMs),
        );
      }
      if (config.progressIntervalMs > 0) {
        timers.push(
          setInterval(() => {
            this.#logProgress(admin, running.pipeline, running.source).catch((error: unknown) => {
              logger.debug('progress query failed', { error: String(error) });
            });
          }, config.progressIntervalMs),
        );
      }

      const outcome = await Promise.race([
        pipeline.failed,
        source.ended.then(() => 'ended' as const),
        adminBroken,
        this.#stopSignal,
      ]);
      if (outcome === 'stop') {
        for (const timer of timers) clearInterval(timer);
        // Finish the Kafka transaction in flight and the pending batch, and confirm them.
        await pipeline.drain();
        await this.#awaitConfirmed(admin, source.confirmed);
        graceful = true;
        logger.info('drained: every captured transaction is committed in Kafka and confirmed', {
          confirmedLsn: formatLsn(source.confirmed),
          checkpoint: pipeline.checkpoint === undefined ? null : formatLsn(pipeline.checkpoint),
        });
      } else {
        throw new CaptureError('CAPTURE_STREAM_ENDED', 'replication stream ended', {
          retriable: true,
        });
      }
    } finally {
      for (const timer of timers) clearInterval(timer);
      if (pipeline !== undefined) this.#published += pipeline.publishedEvents;
      pipeline?.dispose();
      await source?.stop().catch(() => undefined);
      await sink.close();
      await admin.end().catch(() => undefined);
      if (!graceful) logger.debug('pipeline torn down');
    }
  }

  #newPipeline(sink: CaptureSink): CapturePipeline {
    return new CapturePipeline({
      sink,
      router: createOutboxRouter(this.#config.router),
      batch: this.#config.batch,
      onUnroutable: this.#config.router.onUnroutable,
      logger: this.#logger,
      instrumentation: this.instrumentation,
      crashPoints: this.#crash,
      ...(this.#payloadEncoder === undefined ? {} : { payloadEncoder: this.#payloadEncoder }),
    });
  }

  /** Waits (briefly) until PostgreSQL reports the confirmation, so a stop really acknowledged. */
  async #awaitConfirmed(admin: pg.Client, position: bigint): Promise<void> {
    if (position === 0n) return;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const state = await inspectSlot(admin, this.#config.slot.name);
      if ((state?.confirmedFlushLsn ?? 0n) >= position) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    this.#logger.warn('PostgreSQL did not report the final confirmation in time', {
      position: formatLsn(position),
    });
  }

  async #logProgress(
    admin: pg.Client,
    pipeline: CapturePipeline,
    source: PgoutputSource,
  ): Promise<void> {
    const { rows } = await admin.query<{
      current: string;
      confirmed: string | null;
      restart: string | null;
    }>(
      `select pg_current_wal_lsn()::text as current, confirmed_flush_lsn::text as confirmed,
              restart_lsn::text as restart
         from pg_replication_slots where slot_name = $1`,
      [this.#config.slot.name],
    );
    const row = rows[0];
    if (row === undefined) return;
    const current = parseLsn(row.current);
    const events = this.#published + pipeline.publishedEvents;
    const now = performance.now();
    const rate = ((events - this.#lastProgress.events) * 1000) / (now - this.#lastProgress.at);
    this.#lastProgress = { at: now, events };
    const lastCommit = pipeline.lastCommitTimeMicros;
    this.#logger.info('capture progress', {
      events,
      eventsPerSecond: Math.round(rate),
      transactions: pipeline.publishedTransactions,
      skippedTransactions: pipeline.skippedTransactions,
      checkpoint: pipeline.checkpoint === undefined ? null : formatLsn(pipeline.checkpoint),
      confirmedLsn: formatLsn(source.confirmed),
      walLagBytes: row.confirmed === null ? null : Number(current - parseLsn(row.confirmed)),
      retainedWalBytes: row.restart === null ? null : Number(current - parseLsn(row.restart)),
      lastPublishedCommitAgeMs:
        lastCommit === undefined ? null : Math.max(0, Date.now() - Number(lastCommit / 1000n)),
    });
  }
}
