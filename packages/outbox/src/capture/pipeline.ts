/**
 * The relay between a change source and a transactional sink: skips what the checkpoint
 * already covers, routes rows, groups whole source transactions into Kafka transactions
 * (bounded by events, bytes and linger time), splits a source transaction larger than a
 * chunk over several Kafka transactions (each with the position inside it), publishes one
 * batch at a time while the next one fills, and confirms LSNs to PostgreSQL only after the
 * Kafka commit of a source transaction's end.
 *
 * Longer than ~400 lines: batching, chunking, skipping and confirmation share the same
 * state (pending batch, batch in flight, open transaction) and must be read together.
 */
import {
  type EventEnvelope,
  EventHeaders,
  type Instrumentation,
  type Logger,
  noopTracer,
  type Tracer,
} from '@tributary/core';
import type { CaptureBatchConfig, UnroutablePolicy } from './config.js';
import { noCrashPoints, type CrashPoints } from './crash-points.js';
import { CaptureError } from './errors.js';
import type { CaptureEvents } from './events.js';
import { formatLsn, maxLsn } from './lsn.js';
import type { CaptureRecord, OutboxRouter, RoutedRow } from './router.js';
import type { CaptureSink, PublishBatch, TransactionSummary } from './sink.js';
import type {
  ChangeListener,
  ChangeStream,
  SourceTransaction,
  SourceTransactionPart,
} from './source.js';

/**
 * Turns an event's payload into the record value, e.g. the schema registry wire format
 * (`createRegistryEncoder` of this package fits). It receives the envelope the router built
 * (payload parsed once from the stored JSON), never one decoded back from the record.
 * Errors halt or restart capture according to their `retriable` flag; an event is never
 * published without its encoding.
 */
export interface PayloadEncoder {
  encode(
    topic: string,
    envelope: EventEnvelope,
  ): Promise<{ readonly value: Buffer; readonly contentType: string }>;
  /** A synchronous fast path when everything needed is cached; `undefined` otherwise. */
  encodeCached?(
    topic: string,
    envelope: EventEnvelope,
  ): { readonly value: Buffer; readonly contentType: string } | undefined;
}

/** Collaborators and settings of a {@link CapturePipeline}. */
export interface CapturePipelineOptions {
  readonly sink: CaptureSink;
  readonly router: OutboxRouter;
  readonly batch: CaptureBatchConfig;
  readonly onUnroutable: UnroutablePolicy;
  readonly logger: Logger;
  readonly instrumentation: Instrumentation<CaptureEvents>;
  readonly crashPoints?: CrashPoints;
  /** Default: the payload JSON as stored. */
  readonly payloadEncoder?: PayloadEncoder;
  /** Spans each Kafka transaction, linked to its events' stored contexts. Default: none. */
  readonly tracer?: Tracer;
}

/**
 * Links of one publish span: a Kafka transaction can hold thousands of events from as many
 * traces, and exporters cap links per span (OpenTelemetry's default limit is 128).
 */
const MAX_PUBLISH_LINKS = 128;

/** A position in the source: a commit LSN, and the sequence inside it when only a prefix is in. */
interface SourcePosition {
  readonly commitLsn: bigint;
  /** Sequence of the last event in Kafka of the transaction at `commitLsn`; `undefined`: all of it. */
  readonly sequence: number | undefined;
}

/** The source transaction whose parts are arriving: its routed events not yet in a batch. */
interface OpenTransaction {
  readonly xid: number;
  readonly commitLsn: bigint;
  readonly commitTimeMicros: bigint;
  readonly records: CaptureRecord[];
  /** The sequence of each record of `records`. */
  readonly sequences: number[];
  bytes: number;
  /** Rows at or below this sequence are in Kafka already (a checkpoint inside it). */
  readonly coveredThrough: number;
  /** Events of it so far, including chunks handed on and rows covered by the checkpoint. */
  events: number;
  /** Some of it is (or will be) in Kafka before its end: its end must complete the checkpoint. */
  started: boolean;
}

/** What joins a batch: a whole source transaction, a chunk of a large one, or its end. */
interface BatchEntry {
  readonly records: readonly CaptureRecord[];
  readonly bytes: number;
  readonly checkpoint: SourcePosition;
  /** Present when the source transaction ends with this entry. */
  readonly summary: TransactionSummary | undefined;
  /** End of the commit record, once the source transaction ends here; 0 otherwise. */
  readonly position: bigint;
}

interface PendingBatch {
  readonly records: CaptureRecord[];
  readonly transactions: TransactionSummary[];
  bytes: number;
  /** `undefined` while the batch only records a quiet position. */
  checkpoint: SourcePosition | undefined;
  /** Highest position that may be confirmed once this batch is committed. */
  position: bigint;
  /** The linger time is over: publish as soon as the previous batch is done. */
  due: boolean;
  readonly commitTimesMicros: bigint[];
}

const recordOf = (routed: RoutedRow): CaptureRecord => routed.record;
const routedRowOf = (routed: RoutedRow): RoutedRow => routed;

/**
 * One run of the capture pipeline, from one checkpoint. It is not restartable: after a
 * failure the capturer builds a new pipeline (fresh producer, fresh checkpoint), which is
 * how every indeterminate error restarts from a known state instead of carrying on.
 */
export class CapturePipeline implements ChangeListener {
  readonly #options: CapturePipelineOptions;
  readonly #crash: CrashPoints;
  #source: ChangeStream | undefined;
  #checkpoint: SourcePosition | undefined;
  #open: OpenTransaction | undefined;
  #ready: () => void = () => undefined;
  readonly #readyPromise: Promise<void>;
  #pending: PendingBatch | undefined;
  #inFlight: Promise<void> | undefined;
  /**
   * The highest position recorded in a committed checkpoint (`confirmedLsn`): the source
   * is never told more, so a slot found beyond it was not moved by this capturer.
   */
  #recorded = 0n;
  #lingerTimer: NodeJS.Timeout | undefined;
  #failure: Error | undefined;
  #fail: (error: unknown) => void = () => undefined;
  #stopping = false;
  /** Settles with the first failure; never resolves otherwise. */
  readonly failed: Promise<never>;
  /** Events published by this pipeline. */
  publishedEvents = 0;
  /** Source transactions published by this pipeline. */
  publishedTransactions = 0;
  /** Source transactions skipped because the checkpoint covered them. */
  skippedTransactions = 0;
  /** Commit time (µs) of the last source transaction published, for lag reports. */
  lastCommitTimeMicros: bigint | undefined;

  constructor(options: CapturePipelineOptions) {
    this.#options = options;
    this.#crash = options.crashPoints ?? noCrashPoints;
    this.#readyPromise = new Promise((resolve) => {
      this.#ready = resolve;
    });
    this.failed = new Promise<never>((_resolve, reject) => {
      this.#fail = reject;
    });
    // The capturer observes `failed` through Promise.race; this keeps an unobserved
    // rejection (after a graceful stop) from crashing the process.
    this.failed.catch(() => undefined);
  }

  /** The checkpoint in force (commit LSN), once known. */
  get checkpoint(): bigint | undefined {
    return this.#checkpoint?.commitLsn;
  }

  /** The sequence inside the checkpoint's source transaction when only a prefix of it is in Kafka. */
  get checkpointSequence(): number | undefined {
    return this.#checkpoint?.sequence;
  }

  /**
   * Starts processing: until this is called, deliveries wait (and the source, which waits
   * for them, stops reading). The checkpoint must be read AFTER the producer fenced older
   * instances, or a zombie could still commit past it.
   */
  begin(
    source: ChangeStream,
    checkpoint: bigint | undefined,
    recorded = 0n,
    checkpointSequence?: number,
  ): void {
    this.#source = source;
    this.#checkpoint =
      checkpoint === undefined
        ? undefined
        : { commitLsn: checkpoint, sequence: checkpointSequence };
    // What the slot already confirms needs no new record.
    this.#recorded = maxLsn(recorded, source.confirmed);
    this.#ready();
  }

  async part(part: SourceTransactionPart): Promise<void> {
    try {
      await this.#accept(part, part.firstSequence, undefined);
    } catch (error) {
      this.#setFailure(error);
      throw error;
    }
  }

  async transaction(transaction: SourceTransaction): Promise<void> {
    try {
      await this.#accept(transaction, transaction.firstSequence ?? 0, transaction.commitEndLsn);
    } catch (error) {
      this.#setFailure(error);
      throw error;
    }
  }

  /** Takes rows of a source transaction; `end` (its commit end) is set on its last rows. */
  async #accept(
    header: SourceTransactionPart | SourceTransaction,
    firstSequence: number,
    end: bigint | undefined,
  ): Promise<void> {
    await this.#readyPromise;
    this.#throwIfFailed();
    // While stopping, new transactions are left alone: they are not confirmed, so the slot
    // sends them again to whoever runs next.
    if (this.#stopping) return;
    let open = this.#open;
    if (open !== undefined && open.commitLsn !== header.commitLsn) {
      throw new Error(
        `source delivered transaction ${formatLsn(header.commitLsn)} before the end of ${formatLsn(open.commitLsn)}`,
      );
    }
    if (open === undefined) {
      const checkpoint = this.#checkpoint;
      // Compare as 64-bit numbers: the transaction is in Kafka already when its commit LSN
      // is below the checkpoint, or equal to it with no sequence (a crash after the Kafka
      // commit, before the LSN ack).
      if (
        checkpoint !== undefined &&
        (header.commitLsn < checkpoint.commitLsn ||
          (header.commitLsn === checkpoint.commitLsn && checkpoint.sequence === undefined))
      ) {
        if (end !== undefined)
          this.#skipped(header.commitLsn, firstSequence + header.rows.length, end);
        return;
      }
      // A checkpoint inside this transaction: a restart in the middle of a split one.
      const coveredThrough =
        checkpoint?.commitLsn === header.commitLsn ? (checkpoint.sequence ?? -1) : -1;
      open = {
        xid: header.xid,
        commitLsn: header.commitLsn,
        commitTimeMicros: header.commitTimeMicros,
        records: [],
        sequences: [],
        bytes: 0,
        coveredThrough,
        events: 0,
        started: coveredThrough >= 0,
      };
      this.#open = open;
    }
    const from = Math.max(0, Math.min(header.rows.length, open.coveredThrough + 1 - firstSequence));
    open.events += from;
    const sequences: number[] = [];
    const encoder = this.#options.payloadEncoder;
    const records =
      encoder === undefined
        ? this.#route(header, firstSequence, from, recordOf, sequences)
        : await this.#encodePayloads(
            this.#route(header, firstSequence, from, routedRowOf, sequences),
            encoder,
          );
    open.events += records.length;
    for (let index = 0; index < records.length; index += 1) {
      const record = records[index] as CaptureRecord;
      open.records.push(record);
      open.sequences.push(sequences[index] as number);
      open.bytes += record.sizeBytes;
    }
    await this.#cutChunks(open);
    if (end === undefined) return;
    this.#open = undefined;
    if (open.records.length === 0 && !open.started) {
      this.quietPosition(end);
      return;
    }
    await this.#enqueue({
      records: open.records,
      bytes: open.bytes,
      checkpoint: { commitLsn: open.commitLsn, sequence: undefined },
      summary: {
        xid: open.xid,
        commitLsn: open.commitLsn,
        commitTimeMicros: open.commitTimeMicros,
        eventCount: open.events,
      },
      position: end,
    });
  }

  #skipped(commitLsn: bigint, rows: number, end: bigint): void {
    this.skippedTransactions += 1;
    this.#options.instrumentation.emit('capture.transaction.skipped', () => ({
      commitLsn: formatLsn(commitLsn),
      rows,
    }));
    this.quietPosition(end);
  }

  /**
   * Hands chunks of an open transaction on while it holds more than a chunk: each is
   * published with the position of its last event, so a restart resumes right after it.
   * Waits (back-pressure on the source) while earlier batches are still being published.
   */
  async #cutChunks(open: OpenTransaction): Promise<void> {
    const { chunkMaxEvents, chunkMaxBytes } = this.#options.batch;
    while (open.records.length > chunkMaxEvents || open.bytes > chunkMaxBytes) {
      let count = 0;
      let bytes = 0;
      while (count < open.records.length && count < chunkMaxEvents) {
        const size = (open.records[count] as CaptureRecord).sizeBytes;
        if (count > 0 && bytes + size > chunkMaxBytes) break;
        bytes += size;
        count += 1;
      }
      const records = open.records.splice(0, count);
      const sequences = open.sequences.splice(0, count);
      open.bytes -= bytes;
      open.started = true;
      await this.#enqueue({
        records,
        bytes,
        checkpoint: { commitLsn: open.commitLsn, sequence: sequences.at(-1) },
        summary: undefined,
        position: 0n,
      });
    }
  }

  /** Adds an entry to the pending batch; publishes first (and waits) when it does not fit. */
  async #enqueue(entry: BatchEntry): Promise<void> {
    const { maxEvents, maxBytes } = this.#options.batch;
    const { records, bytes } = entry;
    for (;;) {
      this.#throwIfFailed();
      const pending = this.#pending;
      if (pending === undefined) {
        this.#pending = this.#newBatch();
        this.#startLinger();
        break;
      }
      // An entry is never split further, so a batch may exceed the limits when one entry
      // alone does; otherwise a batch that cannot take it goes first.
      if (
        pending.records.length + records.length <= maxEvents &&
        pending.bytes + bytes <= maxBytes
      ) {
        break;
      }
      if (this.#inFlight === undefined) {
        this.#publishPending();
        continue;
      }
      // Back-pressure: wait for the batch in flight before accepting more.
      await this.#inFlight.catch(() => undefined);
    }
    const batch = this.#pending as PendingBatch;
    // A batch opened only to record a quiet position waits the long quiet linger; its
    // first transaction must not wait that long.
    if (batch.checkpoint === undefined && !batch.due) this.#startLinger();
    for (const record of records) batch.records.push(record);
    batch.bytes += bytes;
    const { summary } = entry;
    if (summary !== undefined) {
      batch.transactions.push(summary);
      batch.commitTimesMicros.push(summary.commitTimeMicros);
      this.#options.instrumentation.emit('capture.transaction.accepted', () => ({
        commitLsn: formatLsn(summary.commitLsn),
        commitTimeMicros: summary.commitTimeMicros,
        events: summary.eventCount,
      }));
    }
    batch.checkpoint = entry.checkpoint;
    batch.position = maxLsn(batch.position, entry.position);
    if (batch.records.length >= maxEvents || batch.bytes >= maxBytes) {
      batch.due = true;
      if (this.#inFlight === undefined) this.#publishPending();
    }
  }

  quietPosition(position: bigint): void {
    // While stopping, transactions are left unpublished (see `#accept`); a later quiet
    // position would confirm past them and PostgreSQL would never send them again.
    if (this.#failure !== undefined || this.#source === undefined || this.#stopping) return;
    if (this.#pending !== undefined) {
      this.#pending.position = maxLsn(this.#pending.position, position);
    } else if (position <= this.#recorded) {
      // A committed checkpoint records it: everything before it is durable in Kafka.
      this.#source.confirm(position);
    } else {
      // Recorded in a checkpoint-only Kafka transaction first (at most one per
      // `batch.quietLingerMs`): a slot whose position is beyond every recorded one was
      // recreated or moved by someone else, and the next start halts on it.
      this.#pending = this.#newBatch();
      this.#pending.position = position;
      this.#startLinger(this.#options.batch.quietLingerMs);
    }
  }

  /**
   * Graceful end: takes no new transactions, publishes the pending batch, waits for the
   * Kafka commit and its LSN confirmation.
   */
  async drain(): Promise<void> {
    this.#stopping = true;
    this.#ready();
    for (;;) {
      this.#throwIfFailed();
      if (this.#inFlight !== undefined) {
        await this.#inFlight.catch(() => undefined);
        continue;
      }
      if (this.#pending !== undefined && this.#source !== undefined) {
        this.#publishPending();
        continue;
      }
      return;
    }
  }

  /** Stops timers after a failure or a drain. */
  dispose(): void {
    clearTimeout(this.#lingerTimer);
    this.#stopping = true;
  }

  /**
   * Routes the rows from index `from` on first, so an unroutable row fails the transaction
   * before any encoding; pushes each routed row's sequence onto `sequences`.
   */
  #route<T>(
    transaction: SourceTransactionPart | SourceTransaction,
    firstSequence: number,
    from: number,
    take: (routed: RoutedRow) => T,
    sequences: number[],
  ): T[] {
    const records: T[] = [];
    const commitTime = new Date(Number(transaction.commitTimeMicros / 1000n)).toISOString();
    const { router, onUnroutable, logger, instrumentation } = this.#options;
    for (let index = from; index < transaction.rows.length; index += 1) {
      const row = transaction.rows[index] as SourceTransaction['rows'][number];
      const sequence = firstSequence + index;
      const result = router(row, {
        commitLsn: transaction.commitLsn,
        sequence,
        commitTime,
      });
      if (result.routed) {
        records.push(take(result));
        sequences.push(sequence);
        continue;
      }
      const fields = {
        eventId: result.eventId,
        reason: result.reason,
        commitLsn: formatLsn(transaction.commitLsn),
        policy: onUnroutable,
      };
      instrumentation.emit('capture.unroutable', fields);
      if (onUnroutable === 'fatal') {
        throw new CaptureError(
          'CAPTURE_UNROUTABLE_EVENT',
          `Outbox row ${result.eventId ?? '(no event id)'} in transaction ${formatLsn(transaction.commitLsn)} cannot be routed: ${result.reason}`,
          { details: fields },
        );
      }
      if (onUnroutable === 'warn') logger.warn('skipping unroutable outbox row', fields);
      else logger.error('skipping unroutable outbox row', fields);
    }
    return records;
  }

  async #encodePayloads(
    routed: readonly RoutedRow[],
    encoder: PayloadEncoder,
  ): Promise<CaptureRecord[]> {
    const encoded: CaptureRecord[] = [];
    for (const { record, envelope: withoutPayload, payloadJson } of routed) {
      // The router's own envelope: nothing is parsed back out of the headers or the value.
      const envelope: EventEnvelope = {
        ...withoutPayload,
        payload: JSON.parse(payloadJson) as unknown,
      };
      const result =
        encoder.encodeCached?.(record.topic, envelope) ??
        (await encoder.encode(record.topic, envelope));
      encoded.push({
        ...record,
        value: result.value,
        headers: { ...record.headers, [EventHeaders.contentType]: result.contentType },
        sizeBytes: record.sizeBytes - record.value.length + result.value.length,
      });
    }
    return encoded;
  }

  #newBatch(): PendingBatch {
    return {
      records: [],
      transactions: [],
      bytes: 0,
      checkpoint: undefined,
      position: 0n,
      due: false,
      commitTimesMicros: [],
    };
  }

  #startLinger(ms = this.#options.batch.lingerMs): void {
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = setTimeout(() => {
      const pending = this.#pending;
      if (pending === undefined) return;
      pending.due = true;
      if (this.#inFlight === undefined) this.#publishPending();
    }, ms);
  }

  #publishPending(): void {
    const pending = this.#pending;
    if (pending === undefined || this.#failure !== undefined) return;
    this.#pending = undefined;
    clearTimeout(this.#lingerTimer);
    this.#inFlight = this.#publish(pending).then(
      () => {
        this.#inFlight = undefined;
        const next = this.#pending;
        if (next !== undefined && (next.due || this.#stopping)) this.#publishPending();
      },
      (error: unknown) => {
        this.#inFlight = undefined;
        this.#setFailure(error);
      },
    );
  }

  async #publish(pending: PendingBatch): Promise<void> {
    const source = this.#source;
    if (source === undefined) throw new Error('pipeline published before it began');
    const started = performance.now();
    // A batch that only records a quiet position keeps the checkpoint in force.
    const checkpoint = pending.checkpoint ??
      this.#checkpoint ?? { commitLsn: 0n, sequence: undefined };
    const position = pending.position;
    const batch: PublishBatch = {
      records: pending.records,
      transactions: pending.transactions,
      checkpoint: checkpoint.commitLsn,
      checkpointSequence: checkpoint.sequence,
      confirmedLsn: maxLsn(position, this.#recorded),
    };
    const tracer = this.#options.tracer ?? noopTracer;
    if (tracer.enabled && pending.records.length > 0) await this.#tracedPublish(tracer, batch);
    else await this.#options.sink.publish(batch);
    this.#crash('after-commit');
    this.#checkpoint = checkpoint;
    this.#recorded = batch.confirmedLsn;
    // Only now, with the events and the checkpoint committed in Kafka, may PostgreSQL drop
    // this WAL. A crash before this line makes the slot resend these transactions; the
    // checkpoint (≥ their commit LSNs) makes the next run skip them. A batch that ends
    // inside a split source transaction confirms nothing of it (position 0 for it): the
    // slot resends all of it after a crash, and the checkpoint's sequence skips its prefix.
    if (position > 0n) source.confirm(position);
    this.#crash('after-ack');
    if (pending.checkpoint === undefined) return;
    this.publishedEvents += pending.records.length;
    this.publishedTransactions += pending.transactions.length;
    this.lastCommitTimeMicros =
      pending.transactions.at(-1)?.commitTimeMicros ?? this.lastCommitTimeMicros;
    const committedAtMs = Date.now();
    this.#options.instrumentation.emit('capture.batch.committed', () => ({
      events: pending.records.length,
      transactions: pending.transactions.length,
      bytes: pending.bytes,
      checkpoint: formatLsn(checkpoint.commitLsn),
      durationMs: performance.now() - started,
      committedAtMs,
      commitTimesMicros: pending.commitTimesMicros,
      eventsPerTransaction: pending.transactions.map((summary) => summary.eventCount),
      eventsPerTopic: countByTopic(pending.records),
    }));
  }

  /**
   * The Kafka transaction in a `publish` span (kind producer). It links to the events'
   * stored contexts instead of having one parent: a batch carries many traces. Each record
   * keeps its own `traceparent` header, so the projections continue each trace.
   */
  async #tracedPublish(tracer: Tracer, batch: PublishBatch): Promise<void> {
    const links = new Set<string>();
    for (const record of batch.records) {
      const traceparent = record.headers[EventHeaders.traceparent];
      if (traceparent !== undefined) links.add(traceparent);
      if (links.size >= MAX_PUBLISH_LINKS) break;
    }
    await tracer.inSpan(
      'publish',
      {
        kind: 'producer',
        links: [...links],
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'publish',
          'messaging.batch.message_count': batch.records.length,
          'tributary.transactions': batch.transactions.length,
          'tributary.checkpoint': formatLsn(batch.checkpoint),
        },
      },
      async (span) => {
        try {
          await this.#options.sink.publish(batch);
        } catch (error) {
          span.recordError(error);
          throw error;
        }
      },
    );
  }

  #setFailure(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error instanceof Error ? error : new Error('pipeline failed', { cause: error });
    clearTimeout(this.#lingerTimer);
    this.#fail(this.#failure);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Records a failure raised outside the pipeline's own publishing (e.g. routing). */
  fail(error: unknown): void {
    this.#setFailure(error);
  }
}

/** Events per topic of a published batch (built only for instrumentation listeners). */
function countByTopic(records: readonly { readonly topic: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of records) counts.set(record.topic, (counts.get(record.topic) ?? 0) + 1);
  return counts;
}
