import {
  backoffDelay,
  EventHeaders,
  headerValue,
  isTributaryError,
  type EnvelopeWithoutPayload,
  type Instrumentation,
  type RecordValueDecoder,
  type Tracer,
  type UpcasterChain,
} from '@tributary/core';
import {
  defaultProjectionRuntimeConfig,
  type OrderingPolicy,
  type PoisonPolicy,
  type ProjectionRuntimeConfig,
} from '../config.js';
import { HandlerFailedError, OrderingViolationError, ProjectionRetiredError } from '../errors.js';
import { FaultInjector, isSimulatedCrash } from '../fault-injection.js';
import type { ProjectionInstrumentationEvents } from '../instrumentation.js';
import { readEnvelope } from '../internal/decode.js';
import type { SourceRecord } from '../source-record.js';
import type { ProjectionStore } from '../store/projection-store.js';
import {
  BatchHandlerFailure,
  HandlerInvoker,
  RecordFailure,
  type AppliedProjection,
} from './handlers.js';
import { OrderingGuard, positionOf, type PoisonDecision } from './ordering-guard.js';

/** Publishes a poison record to the dead-letter topic; must resolve only once it is durable. */
export type DeadLetterPublisher = (
  record: SourceRecord,
  context: {
    readonly projection: { readonly name: string; readonly version: number };
    readonly error: unknown;
    readonly attempts: number;
  },
) => Promise<void>;

/** The runtime settings the applier follows (resolved by the runtime). */
export type ProjectionApplierConfig = Pick<
  ProjectionRuntimeConfig,
  'ordering' | 'poison' | 'retry'
>;

/** Options of {@link ProjectionApplier}. */
export interface ProjectionApplierOptions<Context> {
  /** Where checkpoints, aggregate versions and parked events live; hands handlers their context. */
  readonly store: ProjectionStore<Context>;
  readonly projection: AppliedProjection<Context>;
  /**
   * Default ordering and poison policies (a projection may override them) and the retries
   * of a failing batch, as resolved by the runtime (`resolveProjectionRuntimeConfig`).
   */
  readonly config: ProjectionApplierConfig;
  /** Upcasters applied to every payload before the handler sees it. Default: none. */
  readonly upcasters?: UpcasterChain;
  /**
   * Decodes record values by magic byte and schema id (`createRecordValueDecoder` of
   * `@tributary/core`), for topics with schema-registry-encoded records. Default: JSON only.
   */
  readonly valueDecoder?: RecordValueDecoder;
  readonly instrumentation?: Instrumentation<ProjectionInstrumentationEvents>;
  /**
   * Spans every handled event (`apply <projection>`, kind consumer) as a child of the
   * record's `traceparent` header, so one trace runs from the command to the read-model
   * write. Default: none.
   */
  readonly tracer?: Tracer;
  /** Required when the poison policy is `dead-letter`. */
  readonly deadLetter?: DeadLetterPublisher;
  /** Crash-test hooks. Default: none. */
  readonly faults?: FaultInjector;
  /** Replaceable sleep for retry backoff (tests use fast timings). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What one batch did. */
export interface BatchOutcome {
  readonly applied: number;
  readonly skipped: number;
  readonly parked: number;
  readonly deadLettered: number;
  /** The checkpoint after the batch: the next offset to apply. */
  readonly nextOffset: number;
  readonly attempts: number;
}

/** The result of replaying the parked events of one aggregate. */
export interface ReplayOutcome {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Events applied (handlers ran) and removed from the parked table. */
  readonly applied: number;
  /** Parked repeats of versions already applied: removed without applying. */
  readonly skipped: number;
  /** Set when a handler failed again: nothing was changed for this aggregate. */
  readonly error?: string;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

const envelopeOrUndefined = (record: SourceRecord): EnvelopeWithoutPayload | undefined => {
  try {
    return readEnvelope(record);
  } catch {
    return undefined;
  }
};

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Applies batches of one partition to one projection version, exactly once:
 *
 * 1. ONE store transaction per batch. It locks the checkpoint of
 *    `(projection, version, topic, partition)`, skips records below the stored next
 *    offset (already applied), checks per aggregate that versions are contiguous (the
 *    {@link OrderingGuard}), runs the handlers with the store's context, records parked
 *    events and aggregate versions, and moves the checkpoint past the batch, then commits.
 *    A crash anywhere before the commit leaves nothing behind; after it the records are
 *    skipped when delivered again.
 *    Handlers first run directly in that transaction; if anything fails, the batch runs
 *    again at once with a savepoint around each handler call (see `#applyBatch`).
 * 2. A failing batch is rolled back and retried with backoff. When the retries are used up,
 *    the failing record gets the poison policy (stop, park, dead-letter) and the batch is
 *    run again with that decision, so the records around it are applied normally.
 *
 * Source- and store-agnostic: the Kafka runtime and the in-memory runtime both feed it,
 * and the {@link ProjectionStore} it is given does the bookkeeping.
 */
export class ProjectionApplier<Context = unknown> {
  readonly projection: AppliedProjection<Context>;
  readonly ordering: OrderingPolicy;
  readonly poison: PoisonPolicy;
  private readonly store: ProjectionStore<Context>;
  private readonly retry: ProjectionApplierConfig['retry'];
  private readonly instrumentation: Instrumentation<ProjectionInstrumentationEvents> | undefined;
  private readonly deadLetter: DeadLetterPublisher | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly invoker: HandlerInvoker<Context>;
  private readonly guard: OrderingGuard<Context>;

  constructor(options: ProjectionApplierOptions<Context>) {
    this.store = options.store;
    this.projection = options.projection;
    this.ordering = options.projection.ordering ?? options.config.ordering;
    this.poison = options.projection.poison ?? options.config.poison;
    if (this.poison === 'dead-letter' && options.deadLetter === undefined) {
      throw new Error(
        `Projection "${this.projection.name}" uses the dead-letter policy but no dead-letter publisher was given`,
      );
    }
    this.retry = options.config.retry;
    this.instrumentation = options.instrumentation;
    this.deadLetter = options.deadLetter;
    this.sleep = options.sleep ?? defaultSleep;
    this.invoker = new HandlerInvoker(
      this.projection,
      options.upcasters,
      options.valueDecoder,
      options.tracer,
    );
    this.guard = new OrderingGuard(
      this.projection,
      this.ordering,
      this.invoker,
      options.faults ?? new FaultInjector([]),
      this.instrumentation,
    );
  }

  /**
   * Applies one batch of ONE partition (records in offset order). `coveredThroughOffset`
   * may name the last offset the fetch covered beyond the records (transaction markers).
   *
   * @throws HandlerFailedError under the `stop` policy, OrderingViolationError under `fail`,
   * ProjectionRetiredError when a rebuild retired this version, or the last database error
   * when the retries are used up. Nothing of the batch is applied then.
   */
  async applyBatch(
    records: readonly SourceRecord[],
    options: { readonly coveredThroughOffset?: number } = {},
  ): Promise<BatchOutcome> {
    return this.#applyBatch(records, options, new Map());
  }

  /**
   * A failed COMMIT names no statement, so the batch is applied again one record per
   * transaction: the record whose COMMIT still fails gets the retries and the poison
   * policy, the others commit. Decisions already taken (a published dead letter) carry over.
   */
  async #applyOneByOne(
    records: readonly SourceRecord[],
    options: { readonly coveredThroughOffset?: number },
    decisions: Map<number, PoisonDecision>,
  ): Promise<BatchOutcome> {
    let total = { applied: 0, skipped: 0, parked: 0, deadLettered: 0, nextOffset: 0, attempts: 0 };
    for (const [index, record] of records.entries()) {
      const outcome = await this.#applyBatch(
        [record],
        index === records.length - 1 ? options : {},
        decisions,
      );
      total = {
        applied: total.applied + outcome.applied,
        skipped: total.skipped + outcome.skipped,
        parked: total.parked + outcome.parked,
        deadLettered: total.deadLettered + outcome.deadLettered,
        nextOffset: outcome.nextOffset,
        attempts: total.attempts + outcome.attempts,
      };
    }
    return total;
  }

  async #applyBatch(
    records: readonly SourceRecord[],
    options: { readonly coveredThroughOffset?: number },
    decisions: Map<number, PoisonDecision>,
  ): Promise<BatchOutcome> {
    const first = records[0];
    if (first === undefined) throw new Error('applyBatch needs at least one record');
    const started = performance.now();
    const retry = this.retry;
    const retries = retry.retries ?? defaultProjectionRuntimeConfig.retry.retries ?? 0;
    let failures = 0;
    // With a batch handler, the batch first goes through it in one call; if it fails, the
    // batch is run again through the per-event handlers, which pinpoint the failing record.
    let perEvent = this.projection.batchHandler === undefined;
    // The first run calls the handlers without a savepoint each (one round trip per handled
    // event instead of three). A handler that swallows its own database error leaves the
    // transaction aborted, so a later statement of the batch (at the latest the checkpoint
    // update) fails, and any failure sends the batch through an isolated run at once: a
    // savepoint per handler call, which pins each failure on its own record. Only failures of
    // isolated runs count as attempts, so retries and the poison policy see what they did.
    let isolated = false;
    for (let attempts = 1; ; attempts += 1) {
      try {
        const useBatchHandler = !perEvent;
        const isolating = isolated;
        // The store's unit of work rolls back whatever the guard or a handler throws.
        const outcome = await this.store.transaction(this.projection, (transaction) =>
          this.guard.apply(
            transaction,
            records,
            decisions,
            options.coveredThroughOffset,
            useBatchHandler,
            isolating,
          ),
        );
        const result = { ...outcome, attempts };
        const committedAtMs = Date.now();
        this.instrumentation?.emit('projection.batch.committed', () => ({
          projection: this.projection.name,
          version: this.projection.version,
          topic: first.topic,
          partition: first.partition,
          records: records.length,
          ...result,
          durationMs: performance.now() - started,
          committedAtMs,
          occurredAtMs: occurredTimes(records.slice(outcome.skipped)),
        }));
        return result;
      } catch (error) {
        if (
          error instanceof OrderingViolationError ||
          error instanceof ProjectionRetiredError ||
          isSimulatedCrash(error)
        )
          throw error;
        if (error instanceof BatchHandlerFailure) {
          // Rolled back; the per-event run retries with backoff and applies the poison policy.
          perEvent = true;
          this.instrumentation?.emit('projection.batch.retry', () => ({
            projection: this.projection.name,
            topic: first.topic,
            partition: first.partition,
            attempt: attempts,
            delayMs: 0,
            error: error.failure,
          }));
          continue;
        }
        const commitFailed = isTributaryError(error) && error.code === 'PROJECTION_COMMIT_FAILED';
        // A COMMIT is only reached when every statement succeeded, so its failure is the
        // batch's own (a deferred constraint) and a decode failure is its record's: both
        // are handled alike in either run. Anything else of a fast run may be the echo of
        // an earlier handler's swallowed error.
        const deterministic = error instanceof RecordFailure && error.deterministic;
        if (!isolated && !commitFailed && !deterministic) {
          isolated = true;
          attempts -= 1;
          continue;
        }
        if (commitFailed && records.length > 1)
          return await this.#applyOneByOne(records, options, decisions);
        // One record alone: its COMMIT failure is its own.
        const recordFailure =
          error instanceof RecordFailure
            ? error
            : commitFailed
              ? new RecordFailure(first, envelopeOrUndefined(first), error.cause ?? error, false)
              : undefined;
        failures += 1;
        // Deterministic failures (undecodable records, failing upcasters) cannot heal by
        // waiting, so they go straight to the poison policy.
        if (failures <= retries && recordFailure?.deterministic !== true) {
          const delayMs = backoffDelay(failures, retry);
          this.instrumentation?.emit('projection.batch.retry', () => ({
            projection: this.projection.name,
            topic: first.topic,
            partition: first.partition,
            attempt: attempts,
            delayMs,
            error: recordFailure?.failure ?? error,
          }));
          await this.sleep(delayMs);
          continue;
        }
        if (recordFailure === undefined) throw error;
        await this.applyPoisonPolicy(recordFailure, failures, decisions);
        failures = 0;
      }
    }
  }

  private async applyPoisonPolicy(
    failure: RecordFailure,
    attempts: number,
    decisions: Map<number, PoisonDecision>,
  ): Promise<void> {
    const { record } = failure;
    const eventId = failure.envelope?.eventId;
    switch (this.poison) {
      case 'stop':
        throw new HandlerFailedError(
          this.projection.name,
          eventId,
          positionOf(record),
          attempts,
          failure.failure,
        );
      case 'park':
        if (failure.envelope === undefined) {
          // Without a readable envelope there is no aggregate to park: only stopping or a
          // dead letter can deal with it.
          throw new HandlerFailedError(
            this.projection.name,
            eventId,
            positionOf(record),
            attempts,
            failure.failure,
          );
        }
        decisions.set(record.offset, 'park');
        return;
      case 'dead-letter': {
        const publish = this.deadLetter;
        if (publish === undefined) throw failure.failure;
        // Published BEFORE the batch that skips it commits, so it is never lost, and
        // recorded as published right after, outside the batch transaction: when the batch
        // runs again (failed COMMIT, crash, redelivery), it is not published twice. Only a
        // crash between the broker's acknowledgement and that record repeats it (the event
        // id header identifies it).
        const position = positionOf(record);
        if (!(await this.store.wasDeadLettered(this.projection, position))) {
          await publish(record, { projection: this.projection, error: failure.failure, attempts });
          await this.store.recordDeadLettered(this.projection, position, eventId);
        }
        decisions.set(record.offset, 'dead-lettered');
        this.instrumentation?.emit('projection.event.dead-lettered', () => ({
          projection: this.projection.name,
          topic: record.topic,
          position: positionOf(record),
          error: failure.failure,
        }));
        return;
      }
    }
  }

  /**
   * Moves the checkpoint of a partition past entries that hold no record (transaction
   * markers, aborted records: `firstOffset`…`lastOffset`, inclusive) when it stands among
   * them, so a partition whose log ends in such entries reaches its end offset (lag 0, a
   * rebuild that finishes). Under the checkpoint lock, like a batch; a checkpoint outside
   * the range is left alone (records before `firstOffset` may not be applied yet).
   *
   * @returns the new next offset, or undefined when nothing moved.
   * @throws ProjectionRetiredError when a rebuild retired this version.
   */
  async coverHidden(
    partition: { readonly topic: string; readonly partition: number },
    firstOffset: number,
    lastOffset: number,
  ): Promise<number | undefined> {
    return this.store.transaction(this.projection, async (transaction) => {
      const stored = await transaction.lockCheckpoint(partition);
      if (stored < firstOffset || stored > lastOffset) return undefined;
      await transaction.advance(partition, lastOffset + 1, []);
      return lastOffset + 1;
    });
  }

  /**
   * Applies the parked events of one aggregate in log order, in ONE transaction, then
   * unparks it, so its next events flow again. Repeats of versions already applied are
   * dropped; gaps are applied as they are (replaying is the operator's decision). If a
   * handler fails again, the transaction rolls back and the aggregate stays parked.
   */
  async replayParked(aggregateType: string, aggregateId: string): Promise<ReplayOutcome> {
    const aggregate = { aggregateType, aggregateId };
    try {
      return await this.store.transaction(this.projection, async (transaction) => {
        // Same lock order as a batch (aggregate row first), so a batch of the running
        // runtime either sees the aggregate still parked or already replayed.
        const [stored] = await transaction.lockAggregates([aggregate]);
        let lastVersion = stored?.lastVersion ?? 0;
        const records = await transaction.lockParked(aggregate);
        let applied = 0;
        let skipped = 0;
        for (const record of records) {
          const envelope = readEnvelope(record);
          if (envelope.aggregateVersion <= lastVersion) {
            skipped += 1;
            continue;
          }
          if (this.invoker.handles(envelope.eventType))
            await transaction.isolate(() =>
              this.invoker.applyOne(record, envelope, transaction.context),
            );
          lastVersion = envelope.aggregateVersion;
          applied += 1;
        }
        await transaction.unpark(aggregate, lastVersion);
        return { aggregateType, aggregateId, applied, skipped };
      });
    } catch (error) {
      const cause = error instanceof RecordFailure ? error.failure : error;
      return { aggregateType, aggregateId, applied: 0, skipped: 0, error: errorText(cause) };
    }
  }
}

/** Whether an error is a projection error that must stop the runtime rather than be retried. */
export function isFatalProjectionError(error: unknown): boolean {
  return (
    isTributaryError(error) &&
    ['PROJECTION_ORDERING_VIOLATION', 'PROJECTION_HANDLER_FAILED', 'PROJECTION_RETIRED'].includes(
      error.code,
    )
  );
}

/** Occurred-at of records from their envelope header, for end-to-end age figures. */
function occurredTimes(records: readonly SourceRecord[]): number[] {
  const times: number[] = [];
  for (const record of records) {
    const time = Date.parse(headerValue(record.headers, EventHeaders.occurredAt) ?? '');
    if (!Number.isNaN(time)) times.push(time);
  }
  return times;
}
