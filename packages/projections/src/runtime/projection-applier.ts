import {
  backoffDelay,
  isRetriableError,
  isTributaryError,
  UpcasterChain,
  type EnvelopeWithoutPayload,
  type Instrumentation,
  type RecordValueDecoder,
} from '@tributary/core';
import type { Knex } from 'knex';
import { typedRow, typedRows } from '../internal/sql.js';
import type { OrderingPolicy, PoisonPolicy } from '../config.js';
import {
  HandlerFailedError,
  OrderingViolationError,
  ProjectionRetiredError,
  type RecordPosition,
} from '../errors.js';
import type { ProjectionInstrumentationEvents } from '../instrumentation.js';
import {
  decodeEvent,
  decodeEventWith,
  headersAsStrings,
  readEnvelope,
  valueBytes,
  type SourceRecord,
} from '../internal/decode.js';
import { FaultInjector, isSimulatedCrash } from '../internal/fault-injection.js';
import {
  tableNamesFor,
  type AnyProjection,
  type ProjectionContext,
  type ProjectionHandler,
  type ProjectedEvent,
} from '../projection.js';
import type { PostgresProjectionStore } from '../store/projection-store.js';

/** Publishes a poison record to the dead-letter topic; must resolve only once it is durable. */
export type DeadLetterPublisher = (
  record: SourceRecord,
  context: {
    readonly projection: AnyProjection;
    readonly error: unknown;
    readonly attempts: number;
  },
) => Promise<void>;

/** Options of {@link ProjectionApplier}. */
export interface ProjectionApplierOptions {
  readonly store: PostgresProjectionStore;
  readonly projection: AnyProjection;
  /** Upcasters applied to every payload before the handler sees it. Default: none. */
  readonly upcasters?: UpcasterChain;
  /**
   * Decodes record values by magic byte and schema id (`createRecordValueDecoder` of
   * `@tributary/core`), for topics with schema-registry-encoded records. Default: JSON only.
   */
  readonly valueDecoder?: RecordValueDecoder;
  readonly instrumentation?: Instrumentation<ProjectionInstrumentationEvents>;
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

/** A record that failed inside the batch transaction, with whether retrying may help. */
class RecordFailure extends Error {
  constructor(
    readonly record: SourceRecord,
    readonly envelope: EnvelopeWithoutPayload | undefined,
    readonly failure: unknown,
    readonly deterministic: boolean,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/** The projection's batch handler failed: the batch is run again one event at a time. */
class BatchHandlerFailure extends Error {
  constructor(readonly failure: unknown) {
    super(failure instanceof Error ? failure.message : String(failure));
  }
}

/** How earlier attempts decided to treat poison records, by offset. */
type PoisonDecision = 'park' | 'dead-lettered';

interface AggregateState {
  lastVersion: number;
  parked: boolean;
  dirty: boolean;
}

interface ParkedInsert {
  readonly record: SourceRecord;
  readonly envelope: EnvelopeWithoutPayload;
  readonly reason: 'handler-failed' | 'ordering' | 'aggregate-parked';
  readonly error: string | null;
}

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

const aggregateKey = (aggregateType: string, aggregateId: string): string =>
  `${aggregateType}\u0000${aggregateId}`;

const positionOf = (record: SourceRecord): RecordPosition => ({
  topic: record.topic,
  partition: record.partition,
  offset: record.offset,
});

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

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

/**
 * Applies batches of one partition to one projection version, exactly once:
 *
 * 1. ONE database transaction per batch. It locks the checkpoint row
 *    `(projection, version, topic, partition)` FOR UPDATE, skips records below the stored
 *    `next_offset` (already applied), checks per aggregate that versions are contiguous,
 *    runs the handlers with the same transaction, records parked events and aggregate
 *    versions, and moves `next_offset` past the batch, then commits. A crash anywhere
 *    before COMMIT leaves nothing behind; after COMMIT the records are skipped when
 *    delivered again.
 * 2. A failing batch is rolled back and retried with backoff. When the retries are used up,
 *    the failing record gets the poison policy (stop, park, dead-letter) and the batch is
 *    run again with that decision, so the records around it are applied normally.
 *
 * Source-agnostic: the kafkajs runtime and the in-memory runtime both feed it.
 */
export class ProjectionApplier {
  readonly projection: AnyProjection;
  readonly ordering: OrderingPolicy;
  readonly poison: PoisonPolicy;
  private readonly store: PostgresProjectionStore;
  private readonly upcasters: UpcasterChain;
  private readonly valueDecoder: RecordValueDecoder | undefined;
  private readonly instrumentation: Instrumentation<ProjectionInstrumentationEvents> | undefined;
  private readonly deadLetter: DeadLetterPublisher | undefined;
  private readonly faults: FaultInjector;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly context: Omit<ProjectionContext, 'trx'>;
  private readonly handlers: Readonly<
    Record<string, ProjectionHandler<ProjectedEvent> | undefined>
  >;

  constructor(options: ProjectionApplierOptions) {
    this.store = options.store;
    this.projection = options.projection;
    this.ordering = options.projection.ordering ?? options.store.config.ordering;
    this.poison = options.projection.poison ?? options.store.config.poison;
    if (this.poison === 'dead-letter' && options.deadLetter === undefined) {
      throw new Error(
        `Projection "${this.projection.name}" uses the dead-letter policy but no dead-letter publisher was given`,
      );
    }
    this.upcasters = options.upcasters ?? new UpcasterChain();
    this.valueDecoder = options.valueDecoder;
    this.instrumentation = options.instrumentation;
    this.deadLetter = options.deadLetter;
    this.faults = options.faults ?? new FaultInjector([]);
    this.sleep = options.sleep ?? defaultSleep;
    this.handlers = this.projection.handlers;
    this.context = {
      tables: tableNamesFor(
        this.projection,
        this.projection.version,
        options.store.config.readModelSchema,
      ),
      projection: { name: this.projection.name, version: this.projection.version },
    };
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
    const first = records[0];
    if (first === undefined) throw new Error('applyBatch needs at least one record');
    const started = performance.now();
    const retry = this.store.config.retry;
    const retries = retry.retries ?? 3;
    const decisions = new Map<number, PoisonDecision>();
    let failures = 0;
    // With a batch handler, the batch first goes through it in one call; if it fails, the
    // batch is run again through the per-event handlers, which pinpoint the failing record.
    let perEvent = this.projection.batchHandler === undefined;
    for (let attempts = 1; ; attempts += 1) {
      try {
        const outcome = await this.runTransaction(
          first.topic,
          first.partition,
          records,
          decisions,
          options.coveredThroughOffset,
          perEvent,
        );
        const result = { ...outcome, attempts };
        this.instrumentation?.emit('projection.batch.committed', () => ({
          projection: this.projection.name,
          version: this.projection.version,
          topic: first.topic,
          partition: first.partition,
          records: records.length,
          ...result,
          durationMs: performance.now() - started,
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
        const recordFailure = error instanceof RecordFailure ? error : undefined;
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
        // Published BEFORE the batch that skips it commits: a crash in between publishes it
        // again on redelivery (at-least-once into the dead-letter topic, identified by the
        // event id header), but never loses it.
        await publish(record, { projection: this.projection, error: failure.failure, attempts });
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

  private async runTransaction(
    topic: string,
    partition: number,
    records: readonly SourceRecord[],
    decisions: ReadonlyMap<number, PoisonDecision>,
    coveredThroughOffset: number | undefined,
    perEvent: boolean,
  ): Promise<Omit<BatchOutcome, 'attempts'>> {
    const { knex } = this.store;
    const batchHandler = perEvent ? undefined : this.projection.batchHandler;
    const key = {
      projection: this.projection.name,
      version: this.projection.version,
      topic,
      partition,
    };
    return knex.transaction(async (trx) => {
      this.faults.hit('before-lock');
      const storedNext = await this.lockCheckpoint(trx, key);
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
      const aggregates = await this.lockAggregates(trx, [...envelopes.values()]);
      const parkedRows: ParkedInsert[] = [];
      let applied = 0;
      let deadLettered = 0;
      const context: ProjectionContext = { ...this.context, trx };
      const batchEvents: ProjectedEvent[] = [];

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
          parkedRows.push({ record, envelope, reason: 'aggregate-parked', error: null });
          continue;
        }
        if (decision === 'park') {
          parkedRows.push({
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
            parkedRows.push({ record, envelope, reason: 'ordering', error: violation.message });
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
        if (batchHandler === undefined) await this.applyOne(record, envelope, context);
        else if (this.handlers[envelope.eventType] !== undefined)
          batchEvents.push(await this.decode(record, envelope));
        state.lastVersion = envelope.aggregateVersion;
        state.dirty = true;
        applied += 1;
      }
      if (batchHandler !== undefined && batchEvents.length > 0) {
        try {
          await batchHandler(batchEvents, context);
        } catch (error) {
          if (isSimulatedCrash(error)) throw error;
          throw new BatchHandlerFailure(error);
        }
      }

      if (parkedRows.length > 0) await this.insertParked(trx, parkedRows);
      const last = fresh[fresh.length - 1];
      // Control records (transaction markers) and aborted records after the last record of
      // the fetch carry no events; covering them keeps the lag at 0 when idle.
      const through = Math.max(last?.offset ?? storedNext - 1, coveredThroughOffset ?? -1);
      const nextOffset = Math.max(storedNext, through + 1);
      await this.saveAggregatesAndCheckpoint(trx, aggregates, key, nextOffset);
      // Crash point for tests: everything is written but not committed; a kill here must
      // leave no trace.
      this.faults.hit('after-handlers');
      return { applied, skipped, parked: parkedRows.length, deadLettered, nextOffset };
    });
  }

  private async applyOne(
    record: SourceRecord,
    envelope: EnvelopeWithoutPayload,
    context: ProjectionContext,
  ): Promise<void> {
    const handler = this.handlers[envelope.eventType];
    if (handler === undefined) return;
    const event = await this.decode(record, envelope);
    try {
      await handler(event, context);
    } catch (error) {
      throw new RecordFailure(record, envelope, error, false);
    }
  }

  private async decode(
    record: SourceRecord,
    envelope: EnvelopeWithoutPayload,
  ): Promise<ProjectedEvent> {
    try {
      return this.valueDecoder === undefined
        ? decodeEvent(record, envelope, this.upcasters)
        : await decodeEventWith(record, envelope, this.upcasters, this.valueDecoder);
    } catch (error) {
      // An unreachable schema registry heals by waiting (retried with backoff); a value that
      // does not decode, an unknown schema id or a failing upcaster never will.
      throw new RecordFailure(record, envelope, error, !isRetriableError(error));
    }
  }

  /**
   * Applies the parked events of one aggregate in log order, in ONE transaction, then
   * unparks it, so its next events flow again. Repeats of versions already applied are
   * dropped; gaps are applied as they are (replaying is the operator's decision). If a
   * handler fails again, the transaction rolls back and the aggregate stays parked.
   */
  async replayParked(aggregateType: string, aggregateId: string): Promise<ReplayOutcome> {
    const { refs } = this.store;
    const owner = { projection: this.projection.name, version: this.projection.version };
    try {
      return await this.store.knex.transaction(async (trx) => {
        // Same lock order as a batch (aggregate row first), so a batch of the running
        // runtime either sees the aggregate still parked or already replayed.
        const state = await this.lockAggregates(trx, [
          { aggregateType, aggregateId } as EnvelopeWithoutPayload,
        ]);
        const aggregate = state.get(aggregateKey(aggregateType, aggregateId));
        const rows = await typedRows<{
          topic: string;
          partition: number;
          record_offset: string | number;
          record_key: string | null;
          record_value: Uint8Array | null;
          record_headers: Record<string, string> | string;
        }>(
          trx(refs.parked)
            .where({ ...owner, aggregate_type: aggregateType, aggregate_id: aggregateId })
            .orderBy('record_offset')
            .forUpdate()
            .select(
              'topic',
              'partition',
              'record_offset',
              'record_key',
              'record_value',
              'record_headers',
            ),
        );
        if (aggregate === undefined) return { aggregateType, aggregateId, applied: 0, skipped: 0 };
        const context: ProjectionContext = { ...this.context, trx };
        let applied = 0;
        let skipped = 0;
        for (const row of rows) {
          const record: SourceRecord = {
            topic: row.topic,
            partition: Number(row.partition),
            offset: Number(row.record_offset),
            key: row.record_key,
            value: row.record_value,
            headers:
              typeof row.record_headers === 'string'
                ? (JSON.parse(row.record_headers) as Record<string, string>)
                : row.record_headers,
          };
          const envelope = readEnvelope(record);
          if (envelope.aggregateVersion <= aggregate.lastVersion) {
            skipped += 1;
            continue;
          }
          await this.applyOne(record, envelope, context);
          aggregate.lastVersion = envelope.aggregateVersion;
          applied += 1;
        }
        aggregate.parked = false;
        aggregate.dirty = true;
        await this.saveAggregates(trx, state);
        await trx(refs.parked)
          .where({ ...owner, aggregate_type: aggregateType, aggregate_id: aggregateId })
          .delete();
        return { aggregateType, aggregateId, applied, skipped };
      });
    } catch (error) {
      const cause = error instanceof RecordFailure ? error.failure : error;
      return { aggregateType, aggregateId, applied: 0, skipped: 0, error: errorText(cause) };
    }
  }

  /**
   * Locks the checkpoint row and returns its `next_offset`. The row is created on first
   * use; a version retired by a rebuild has had its rows deleted, which this detects.
   */
  private async lockCheckpoint(
    trx: Knex.Transaction,
    key: { projection: string; version: number; topic: string; partition: number },
  ): Promise<number> {
    const { refs } = this.store;
    const select = async (): Promise<number | undefined> => {
      const row = await typedRow<{ next_offset: string | number }>(
        trx(refs.checkpoints).where(key).forUpdate().first('next_offset'),
      );
      return row === undefined ? undefined : Number(row.next_offset);
    };
    const found = await select();
    if (found !== undefined) return found;
    const registry = await typedRow<{ status: string }>(
      trx(refs.registry)
        .where({ projection: key.projection, version: key.version })
        .first('status'),
    );
    if (registry === undefined || registry.status === 'retired') {
      throw new ProjectionRetiredError(key.projection, key.version);
    }
    await trx(refs.checkpoints)
      .insert({ ...key, next_offset: 0 })
      .onConflict(['projection', 'version', 'topic', 'partition'])
      .ignore();
    return (await select()) ?? 0;
  }

  /** Loads (and locks) the last applied version of every aggregate in the batch. */
  private async lockAggregates(
    trx: Knex.Transaction,
    envelopes: readonly EnvelopeWithoutPayload[],
  ): Promise<Map<string, AggregateState>> {
    const states = new Map<string, AggregateState>();
    const pairs: [string, string][] = [];
    for (const envelope of envelopes) {
      const k = aggregateKey(envelope.aggregateType, envelope.aggregateId);
      if (states.has(k)) continue;
      states.set(k, { lastVersion: 0, parked: false, dirty: false });
      pairs.push([envelope.aggregateType, envelope.aggregateId]);
    }
    // Sorted so that concurrent lockers (a parked-event replay) take row locks in one order.
    pairs.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
    const rows = await typedRows<{
      aggregate_type: string;
      aggregate_id: string;
      last_version: number;
      parked: boolean;
    }>(
      trx(this.store.refs.aggregates)
        .where({ projection: this.projection.name, version: this.projection.version })
        .whereIn(['aggregate_type', 'aggregate_id'], pairs)
        .orderBy(['aggregate_type', 'aggregate_id'])
        .forUpdate()
        .select('aggregate_type', 'aggregate_id', 'last_version', 'parked'),
    );
    for (const row of rows) {
      const state = states.get(aggregateKey(row.aggregate_type, row.aggregate_id));
      if (state === undefined) continue;
      state.lastVersion = Number(row.last_version);
      state.parked = row.parked;
    }
    return states;
  }

  private async saveAggregates(
    trx: Knex.Transaction,
    states: ReadonlyMap<string, AggregateState>,
  ): Promise<void> {
    const rows: Record<string, unknown>[] = [];
    for (const [k, state] of states) {
      if (!state.dirty) continue;
      const [aggregateType, aggregateId] = k.split('\u0000') as [string, string];
      rows.push({
        projection: this.projection.name,
        version: this.projection.version,
        aggregate_type: aggregateType,
        aggregate_id: aggregateId,
        last_version: state.lastVersion,
        parked: state.parked,
      });
    }
    if (rows.length === 0) return;
    await trx(this.store.refs.aggregates)
      .insert(rows)
      .onConflict(['projection', 'version', 'aggregate_type', 'aggregate_id'])
      .merge(['last_version', 'parked']);
  }

  /**
   * Upserts the aggregate versions the batch changed and moves the checkpoint, in ONE
   * statement (one round trip): a data-modifying CTE always runs to completion, whether or
   * not the outer UPDATE reads its output. Both rows are already locked by this transaction.
   */
  private async saveAggregatesAndCheckpoint(
    trx: Knex.Transaction,
    states: ReadonlyMap<string, AggregateState>,
    key: { projection: string; version: number; topic: string; partition: number },
    nextOffset: number,
  ): Promise<void> {
    const rows: { t: string; i: string; v: number; p: boolean }[] = [];
    for (const [k, state] of states) {
      if (!state.dirty) continue;
      const [aggregateType, aggregateId] = k.split('\u0000') as [string, string];
      rows.push({ t: aggregateType, i: aggregateId, v: state.lastVersion, p: state.parked });
    }
    const { aggregates, checkpoints } = this.store.tables;
    await trx.raw(
      `with saved as (
         insert into ${aggregates} as a
           (projection, version, aggregate_type, aggregate_id, last_version, parked)
         select ?, ?, r.t, r.i, r.v, r.p
           from jsonb_to_recordset(?::jsonb) as r(t text, i text, v integer, p boolean)
         on conflict (projection, version, aggregate_type, aggregate_id)
         do update set last_version = excluded.last_version, parked = excluded.parked
         returning 1)
       update ${checkpoints} set next_offset = ?, updated_at = now()
        where projection = ? and version = ? and topic = ? and partition = ?`,
      [
        this.projection.name,
        this.projection.version,
        JSON.stringify(rows),
        nextOffset,
        key.projection,
        key.version,
        key.topic,
        key.partition,
      ],
    );
  }

  private async insertParked(trx: Knex.Transaction, rows: readonly ParkedInsert[]): Promise<void> {
    await trx(this.store.refs.parked)
      .insert(
        rows.map(({ record, envelope, reason, error }) => ({
          projection: this.projection.name,
          version: this.projection.version,
          aggregate_type: envelope.aggregateType,
          aggregate_id: envelope.aggregateId,
          aggregate_version: envelope.aggregateVersion,
          event_id: envelope.eventId,
          event_type: envelope.eventType,
          topic: record.topic,
          partition: record.partition,
          record_offset: record.offset,
          reason,
          error,
          record_key: record.key,
          record_value: toBuffer(valueBytes(record.value)),
          record_headers: JSON.stringify(headersAsStrings(record.headers)),
        })),
      )
      // A zombie re-running a batch already parked by the partition's new owner cannot get
      // here (the checkpoint skips it), but a replayed batch after a crash must not fail.
      .onConflict(['projection', 'version', 'topic', 'partition', 'record_offset'])
      .ignore();
    for (const { record, envelope, reason } of rows) {
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

const toBuffer = (bytes: Uint8Array | null): Buffer | null =>
  bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Whether an error is a projection error that must stop the runtime rather than be retried. */
export function isFatalProjectionError(error: unknown): boolean {
  return (
    isTributaryError(error) &&
    ['PROJECTION_ORDERING_VIOLATION', 'PROJECTION_HANDLER_FAILED', 'PROJECTION_RETIRED'].includes(
      error.code,
    )
  );
}
