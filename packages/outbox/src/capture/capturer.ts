/**
 * The capture relay: slot acquisition (or standby), fencing, checkpoint, streaming,
 * heartbeats, progress logs, restarts and graceful shutdown. It never names a technology:
 * the change source and the sink are handed to it (see `createPostgresKafkaCapturer` for
 * the default PostgreSQL → Kafka wiring).
 *
 * Order of a run, and why:
 * 1. Prepare the source (PostgreSQL: check wal_level, the publication and the slot, create
 *    them if allowed; a missing slot with an existing checkpoint is a lost slot and halts),
 *    then the sink.
 * 2. Take the slot (START_REPLICATION). While another instance holds it, wait: standby.
 * 3. Only then connect the transactional producer, which fences older instances. Doing it
 *    before holding the slot would let a standby fence the healthy active instance.
 * 4. Only then read the checkpoint (read_committed): after fencing, no zombie can commit
 *    past it any more.
 * 5. Stream: transactions at or below the checkpoint are skipped, the rest published; LSNs
 *    are confirmed after each Kafka commit.
 * Any retriable failure tears the run down and starts again at 1 with a fresh source, a
 * fresh producer and a fresh checkpoint; a non-retriable one halts the capturer.
 */
import { postgresAccessFailure } from './postgres/access.js';
import {
  createInstrumentation,
  type Instrumentation,
  isRetriableError,
  isTributaryError,
  type Logger,
  silentLogger,
  type Tracer,
} from '@tributary/core';
import type { CaptureConfig } from './config.js';
import { noCrashPoints, type CrashPoints } from './crash-points.js';
import { CaptureError } from './errors.js';
import type { CaptureEvents } from './events.js';
import { formatLsn } from './lsn.js';
import { CapturePipeline, type PayloadEncoder } from './pipeline.js';
import { createOutboxRouter } from './router.js';
import { verifyCheckpointSource, verifySlotPosition } from './identity.js';
import type { CaptureCheckpoint, CaptureSink } from './sink.js';
import type { ChangeSource, ChangeStream, SourceAcquisition } from './source.js';

/** The settings the relay itself reads (a `CaptureConfig` fits). */
export type CaptureRelayConfig = Pick<
  CaptureConfig,
  | 'name'
  | 'router'
  | 'batch'
  | 'heartbeatIntervalMs'
  | 'standbyRetryMs'
  | 'restartBackoffMs'
  | 'progressIntervalMs'
>;

/** Options of {@link createCapturer}. */
export interface CapturerOptions {
  /** The resolved configuration (see `resolveCaptureConfig`); the relay reads its generic part. */
  readonly config: CaptureRelayConfig;
  /**
   * Opens the change source of one pipeline run (e.g. `createPostgresChangeSource`); called
   * again for every run, so a broken connection never carries over.
   */
  readonly source: () => ChangeSource;
  /**
   * Creates the sink of one pipeline run (e.g. `createKafkaCaptureSink`); called again for
   * every run, because a restart needs a fresh producer after any indeterminate outcome.
   */
  readonly sink: () => CaptureSink;
  /** Default: silent. The CLI passes a console logger. */
  readonly logger?: Logger;
  /**
   * Test hook for crash tests; default none. The relay calls `after-commit` and `after-ack`;
   * a sink calls its own (the Kafka sink: `produce`) when given the same hook.
   */
  readonly crashPoints?: CrashPoints;
  /** Instrumentation to emit into; default a new one (see {@link Capturer.instrumentation}). */
  readonly instrumentation?: Instrumentation<CaptureEvents>;
  /**
   * Encodes payloads, e.g. `createRegistryEncoder(...)` for the schema registry wire
   * format. Default: the payload JSON as stored.
   */
  readonly payloadEncoder?: PayloadEncoder;
  /**
   * Spans every Kafka transaction (`publish`, kind producer) with links to the stored
   * `traceparent` of its events. Default: none.
   */
  readonly tracer?: Tracer;
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

/**
 * Creates a capturer relaying `source` to `sink`; nothing connects until {@link Capturer.run}.
 */
export function createCapturer(options: CapturerOptions): Capturer {
  return new RelayCapturer(options);
}

/**
 * Tributary errors say whether they are retriable; anything else (a dropped connection, a
 * DNS failure, a kafkajs error that escaped classification) restarts the pipeline, which is
 * always safe because a run starts from the Kafka checkpoint.
 */
function shouldRestart(error: unknown): boolean {
  return isTributaryError(error) ? isRetriableError(error) : true;
}

// The back-off and standby timers must hold the event loop: while they run, the source and
// the sink are closed and nothing else may. An unref'd timer let `tributary capture` exit in
// the middle of a restart (exit code 13, "unsettled top-level await"). `stop()` settles
// `interrupt`, which clears the timer at once.
const sleep = (ms: number, interrupt: Promise<unknown>): Promise<unknown> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
    interrupt,
  ]).finally(() => {
    clearTimeout(timer);
  });
};

class RelayCapturer implements Capturer {
  readonly instrumentation: Instrumentation<CaptureEvents>;
  readonly #config: CaptureRelayConfig;
  readonly #openSource: () => ChangeSource;
  readonly #openSink: () => CaptureSink;
  readonly #logger: Logger;
  readonly #crash: CrashPoints;
  readonly #payloadEncoder: PayloadEncoder | undefined;
  readonly #tracer: Tracer | undefined;
  #state: CapturerState = 'starting';
  #stopRequested = false;
  #requestStop: () => void = () => undefined;
  readonly #stopSignal: Promise<'stop'>;
  #running: Promise<void> | undefined;
  #published = 0;
  #firstRun = true;
  #lastProgress = { at: performance.now(), events: 0 };

  constructor(options: CapturerOptions) {
    this.#config = options.config;
    this.#openSource = options.source;
    this.#openSink = options.sink;
    this.#logger = options.logger ?? silentLogger;
    this.#crash = options.crashPoints ?? noCrashPoints;
    this.#payloadEncoder = options.payloadEncoder;
    this.#tracer = options.tracer;
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
          const denied = postgresAccessFailure(error);
          if (denied !== undefined) throw denied;
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
    const source = this.#openSource();
    const sink = this.#openSink();
    let stream: ChangeStream | undefined;
    let pipeline: CapturePipeline | undefined;
    const timers: NodeJS.Timeout[] = [];
    let graceful = false;
    try {
      const origin = { capturer: this.#config.name, location: sink.checkpointLocation };
      // Read the checkpoint, THEN identify: the source's head is then at least the commit
      // LSN of any checkpoint an active instance committed before the read.
      const readVerifiedCheckpoint = async (): Promise<CaptureCheckpoint | undefined> => {
        const checkpoint = await sink.readCheckpoint();
        verifyCheckpointSource(checkpoint, await source.identify(), origin);
        return checkpoint;
      };
      await source.prepare({
        readCheckpoint: async () => (await readVerifiedCheckpoint())?.commitLsn,
      });
      await sink.prepare();
      if (this.#firstRun) {
        // Before fencing anyone: a second deployment that reuses this capturer name must
        // halt here, not fence the healthy one's producer first.
        this.#firstRun = false;
        await readVerifiedCheckpoint();
      }

      // Take the slot, or wait for it.
      let announced = false;
      for (;;) {
        if (this.#stopRequested) return;
        const candidate = this.#newPipeline(sink);
        let acquisition: SourceAcquisition;
        try {
          acquisition = await source.acquire(candidate);
        } catch (error) {
          candidate.dispose();
          throw error;
        }
        if (acquisition.acquired) {
          stream = acquisition.stream;
          pipeline = candidate;
          break;
        }
        candidate.dispose();
        if (!announced) {
          announced = true;
          this.#state = 'standby';
          logger.info(
            'standby: another instance holds the replication slot; waiting to take over',
            {
              slot: source.slot,
              activePid: acquisition.activePid,
            },
          );
          this.instrumentation.emit('capture.standby', {
            slot: source.slot,
            activePid: acquisition.activePid,
          });
        }
        await sleep(config.standbyRetryMs, this.#stopSignal);
      }
      const acquired = stream;
      logger.info('acquired replication slot', {
        slot: source.slot,
        confirmedLsn: formatLsn(acquired.confirmed),
      });
      this.instrumentation.emit('capture.slot.acquired', () => ({
        slot: source.slot,
        confirmedLsn: formatLsn(acquired.confirmed),
      }));

      // Fence older instances, then read the checkpoint they can no longer move.
      await sink.connect((await source.identify()).identity);
      const checkpoint = await readVerifiedCheckpoint();
      logger.info('loaded Kafka checkpoint', {
        commitLsn: checkpoint === undefined ? null : formatLsn(checkpoint.commitLsn),
        ...(checkpoint?.sequence === undefined ? {} : { sequence: checkpoint.sequence }),
        topic: sink.checkpointLocation,
        ...checkpoint?.identity,
      });
      this.instrumentation.emit('capture.checkpoint.loaded', {
        commitLsn: checkpoint === undefined ? null : formatLsn(checkpoint.commitLsn),
      });
      verifySlotPosition(checkpoint, acquired.confirmed, source.slot, origin);
      pipeline.begin(
        acquired,
        checkpoint?.commitLsn,
        checkpoint?.confirmedLsn,
        checkpoint?.sequence,
      );
      this.#state = 'streaming';

      const running = pipeline;
      if (config.heartbeatIntervalMs > 0) {
        timers.push(
          setInterval(() => {
            // While the outbox is idle, a heartbeat gives the source a position to confirm,
            // so it can release what other writes retained (PostgreSQL: WAL).
            source.heartbeat().catch((error: unknown) => {
              logger.warn('heartbeat failed', { error: String(error) });
            });
          }, config.heartbeatIntervalMs),
        );
      }
      if (config.progressIntervalMs > 0) {
        timers.push(
          setInterval(() => {
            this.#logProgress(source, running, acquired).catch((error: unknown) => {
              logger.debug('progress query failed', { error: String(error) });
            });
          }, config.progressIntervalMs),
        );
      }

      const outcome = await Promise.race([
        pipeline.failed,
        acquired.ended.then(() => 'ended' as const),
        source.failed,
        this.#stopSignal,
      ]);
      if (outcome === 'stop') {
        for (const timer of timers) clearInterval(timer);
        // Finish the Kafka transaction in flight and the pending batch, and confirm them.
        await pipeline.drain();
        await source.awaitConfirmed(acquired.confirmed);
        graceful = true;
        logger.info('drained: every captured transaction is committed in Kafka and confirmed', {
          confirmedLsn: formatLsn(acquired.confirmed),
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
      await stream?.stop().catch(() => undefined);
      await sink.close();
      await source.close();
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
      ...(this.#tracer === undefined ? {} : { tracer: this.#tracer }),
    });
  }

  async #logProgress(
    source: ChangeSource,
    pipeline: CapturePipeline,
    stream: ChangeStream,
  ): Promise<void> {
    const lag = await source.lag();
    if (lag === undefined) return;
    this.instrumentation.emit('capture.progress', {
      retainedWalBytes: lag.retainedBytes,
      walLagBytes: lag.lagBytes,
    });
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
      confirmedLsn: formatLsn(stream.confirmed),
      walLagBytes: lag.lagBytes,
      retainedWalBytes: lag.retainedBytes,
      lastPublishedCommitAgeMs:
        lastCommit === undefined ? null : Math.max(0, Date.now() - Number(lastCommit / 1000n)),
    });
  }
}
