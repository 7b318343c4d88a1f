import type { EnvelopeWithoutPayload, Instrumentation } from '@tributary/core';
import type { OrderingPolicy } from '../config.js';
import { OrderingViolationError, type RecordPosition } from '../errors.js';
import type { FaultInjector } from '../fault-injection.js';
import type { ProjectionInstrumentationEvents } from '../instrumentation.js';
import { readEnvelope } from '../internal/decode.js';
import type { ProjectedEvent } from '../projection.js';
import type { SourceRecord } from '../source-record.js';
import type {
  AggregateVersion,
  ParkedEvent,
  ProjectionStoreTransaction,
} from '../store/projection-store.js';
import {
  BatchHandlerFailure,
  RecordFailure,
  type AppliedProjection,
  type HandlerInvoker,
} from './handlers.js';

/** How earlier attempts decided to treat poison records, by offset. */
export type PoisonDecision = 'park' | 'dead-lettered';

/** What one batch transaction did. */
export interface GuardedBatchOutcome {
  readonly applied: number;
  readonly skipped: number;
  readonly parked: number;
  readonly deadLettered: number;
  /** The checkpoint after the batch: the next offset to apply. */
  readonly nextOffset: number;
}

interface AggregateState {
  readonly aggregateType: string;
  readonly aggregateId: string;
  lastVersion: number;
  parked: boolean;
  dirty: boolean;
}

/** Where a record sits in the log, for errors and instrumentation. */
export const positionOf = (record: SourceRecord): RecordPosition => ({
  topic: record.topic,
  partition: record.partition,
  offset: record.offset,
});

/** Map key of one aggregate. */
export const aggregateKey = (aggregateType: string, aggregateId: string): string =>
  `${aggregateType}\u0000${aggregateId}`;

/**
 * The inside of one batch transaction: skips what the checkpoint says was applied, checks
 * per aggregate that versions are contiguous (the ordering guard), applies the rest with
 * the store's handler context, parks what waits, and moves the checkpoint past the batch.
 */
export class OrderingGuard<Context> {
  constructor(
    private readonly projection: AppliedProjection<Context>,
    private readonly ordering: OrderingPolicy,
    private readonly invoker: HandlerInvoker<Context>,
    private readonly faults: FaultInjector,
    private readonly instrumentation: Instrumentation<ProjectionInstrumentationEvents> | undefined,
  ) {}

  /**
   * Applies the records of ONE partition (in offset order) in `transaction`.
   * `coveredThroughOffset` may name the last offset the fetch covered beyond the records.
   * `isolated`: each handler call runs in its own savepoint ({@link
   * ProjectionStoreTransaction.isolate}); without it handlers run directly in the
   * transaction, and the caller must run the batch again isolated if anything fails.
   *
   * @throws OrderingViolationError under `fail`, RecordFailure, BatchHandlerFailure, or
   * the store's errors; the caller's transaction then rolls back.
   */
  async apply(
    transaction: ProjectionStoreTransaction<Context>,
    records: readonly SourceRecord[],
    decisions: ReadonlyMap<number, PoisonDecision>,
    coveredThroughOffset: number | undefined,
    useBatchHandler: boolean,
    isolated: boolean,
  ): Promise<GuardedBatchOutcome> {
    const first = records[0];
    if (first === undefined) throw new Error('A batch needs at least one record');
    const partition = { topic: first.topic, partition: first.partition };
    this.faults.hit('before-lock');
    const storedNext = await transaction.lockCheckpoint(partition);
    const fresh = records.filter((record) => record.offset >= storedNext);
    const skipped = records.length - fresh.length;
    if (fresh.length === 0) {
      // Everything was applied already (redelivery, or a zombie whose partition moved on):
      // touch nothing, and never move the checkpoint backwards.
      return { applied: 0, skipped, parked: 0, deadLettered: 0, nextOffset: storedNext };
    }

    const envelopes = new Map<number, EnvelopeWithoutPayload>();
    for (const record of fresh) {
      try {
        envelopes.set(record.offset, readEnvelope(record));
      } catch (error) {
        throw new RecordFailure(record, undefined, error, true);
      }
    }
    const aggregates = await this.lockAggregates(transaction, envelopes.values());
    const { context } = transaction;
    const parkedEvents: ParkedEvent[] = [];
    const batchEvents: ProjectedEvent[] = [];
    let applied = 0;
    let deadLettered = 0;

    for (const record of fresh) {
      const envelope = envelopes.get(record.offset);
      if (envelope === undefined) continue;
      const state = aggregates.get(aggregateKey(envelope.aggregateType, envelope.aggregateId));
      if (state === undefined) continue;
      const decision = decisions.get(record.offset);
      if (decision === 'dead-lettered') {
        // The event left for the dead-letter topic; its version counts as consumed so the
        // aggregate's next event is not reported as a gap.
        state.lastVersion = Math.max(state.lastVersion, envelope.aggregateVersion);
        state.dirty = true;
        deadLettered += 1;
        continue;
      }
      if (state.parked) {
        // Order is kept: once an aggregate is parked, its later events wait behind it.
        parkedEvents.push({ record, envelope, reason: 'aggregate-parked', error: null });
        continue;
      }
      if (decision === 'park') {
        parkedEvents.push({
          record,
          envelope,
          reason: 'handler-failed',
          error: 'handler failed after retries',
        });
        state.parked = true;
        state.dirty = true;
        continue;
      }
      const expected = state.lastVersion + 1;
      if (envelope.aggregateVersion !== expected) {
        const violation = new OrderingViolationError(
          this.projection.name,
          envelope,
          expected,
          envelope.aggregateVersion,
          positionOf(record),
        );
        if (this.ordering === 'fail') throw violation;
        if (this.ordering === 'park') {
          parkedEvents.push({ record, envelope, reason: 'ordering', error: violation.message });
          state.parked = true;
          state.dirty = true;
          continue;
        }
        this.instrumentation?.emit('projection.ordering.violation', () => ({
          projection: this.projection.name,
          aggregateType: envelope.aggregateType,
          aggregateId: envelope.aggregateId,
          expectedVersion: expected,
          actualVersion: envelope.aggregateVersion,
          position: positionOf(record),
        }));
        // A repeat was applied already: applying it again would double its effects.
        if (envelope.aggregateVersion < expected) continue;
      }
      if (!useBatchHandler) {
        if (this.invoker.handles(envelope.eventType)) {
          if (!isolated) await this.invoker.applyOne(record, envelope, context);
          else {
            const outcome = await transaction.isolate(() =>
              this.invoker.applyOne(record, envelope, context),
            );
            if (outcome === 'rolled-back') this.emitRolledBack(record, envelope);
          }
        }
      } else if (this.invoker.handles(envelope.eventType))
        batchEvents.push(await this.invoker.decode(record, envelope));
      state.lastVersion = envelope.aggregateVersion;
      state.dirty = true;
      applied += 1;
    }
    if (useBatchHandler && batchEvents.length > 0) {
      if (!isolated) await this.invoker.applyAll(batchEvents, context);
      else {
        const outcome = await transaction.isolate(() =>
          this.invoker.applyAll(batchEvents, context),
        );
        // Rolling back would drop the whole batch's writes while the checkpoint moves past
        // it: the per-event run finds the event whose handler swallows the error instead.
        if (outcome === 'rolled-back')
          throw new BatchHandlerFailure(
            new Error('The batch handler caught a database error and left the transaction aborted'),
          );
      }
    }

    if (parkedEvents.length > 0) {
      await transaction.park(parkedEvents);
      this.emitParked(parkedEvents);
    }
    const last = fresh[fresh.length - 1];
    // Control records (transaction markers) and aborted records after the last record of
    // the fetch carry no events; covering them keeps the lag at 0 when idle.
    const through = Math.max(last?.offset ?? storedNext - 1, coveredThroughOffset ?? -1);
    const nextOffset = Math.max(storedNext, through + 1);
    const changed: AggregateVersion[] = [];
    for (const state of aggregates.values()) if (state.dirty) changed.push(state);
    await transaction.advance(partition, nextOffset, changed);
    // Crash point for tests: everything is written but not committed; a kill here must
    // leave no trace.
    this.faults.hit('after-handlers');
    return { applied, skipped, parked: parkedEvents.length, deadLettered, nextOffset };
  }

  /** Loads (and locks) the last applied version of every aggregate of the batch. */
  private async lockAggregates(
    transaction: ProjectionStoreTransaction<Context>,
    envelopes: Iterable<EnvelopeWithoutPayload>,
  ): Promise<Map<string, AggregateState>> {
    const states = new Map<string, AggregateState>();
    for (const { aggregateType, aggregateId } of envelopes) {
      const key = aggregateKey(aggregateType, aggregateId);
      if (!states.has(key))
        states.set(key, {
          aggregateType,
          aggregateId,
          lastVersion: 0,
          parked: false,
          dirty: false,
        });
    }
    for (const stored of await transaction.lockAggregates([...states.values()])) {
      const state = states.get(aggregateKey(stored.aggregateType, stored.aggregateId));
      if (state === undefined) continue;
      state.lastVersion = stored.lastVersion;
      state.parked = stored.parked;
    }
    return states;
  }

  private emitRolledBack(record: SourceRecord, envelope: EnvelopeWithoutPayload): void {
    this.instrumentation?.emit('projection.event.rolled-back', () => ({
      projection: this.projection.name,
      eventId: envelope.eventId,
      eventType: envelope.eventType,
      position: positionOf(record),
    }));
  }

  private emitParked(events: readonly ParkedEvent[]): void {
    for (const { record, envelope, reason } of events) {
      this.instrumentation?.emit('projection.event.parked', () => ({
        projection: this.projection.name,
        aggregateType: envelope.aggregateType,
        aggregateId: envelope.aggregateId,
        aggregateVersion: envelope.aggregateVersion,
        position: positionOf(record),
        reason,
      }));
    }
  }
}
