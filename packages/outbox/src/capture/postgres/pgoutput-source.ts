/**
 * The change source over pg-logical-replication: pgoutput protocol v1, manual
 * acknowledgements, flow control on, transactions in commit order. A large transaction is
 * delivered in parts as its rows arrive (every {@link PART_ROWS} rows or
 * {@link PART_BYTES} characters of column text), so it is never held whole: pgoutput v1
 * sends a transaction only after its commit, so its commit LSN is known from BEGIN.
 *
 * Library behaviours this relies on or works around (pg-logical-replication 2.5):
 * - `acknowledge: { auto: false, timeoutSeconds: 0 }`: with a timeout, a timer would
 *   acknowledge the last *received* LSN on its own — an early ack that loses events.
 * - `flowControl: { enabled: true }`: the `data` handler is awaited and the socket paused
 *   meanwhile; without it `data` fires as fast as bytes arrive and ignores back-pressure.
 * - A handler that throws does not stop the library (it emits `error` and carries on), so
 *   the handler never throws: it records the failure and stops the stream itself.
 * - `acknowledge(lsn)` reports `lsn + 1` as flushed; {@link PgoutputSource.confirm} takes
 *   the exact position and subtracts one.
 * - LSNs arrive zero-padded from the parser and unpadded with `data`/keepalives: all are
 *   parsed to 64-bit numbers.
 */
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { CaptureError } from '../errors.js';
import { type Logger } from '@tributary/core';
import { formatLsn, parseLsn } from '../lsn.js';
import type { OutboxRow } from '../router.js';
import { decodeInsert, type DecodedInsert } from './pgoutput-insert.js';
import type { ChangeListener, ChangeStream, SourceTransaction } from '../source.js';

/** How long a connection attempt to PostgreSQL may take before the pipeline restarts. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** How long stopping the stream may wait for the server before the socket is destroyed. */
const STOP_TIMEOUT_MS = 5_000;
/** PostgreSQL's default wal_sender_timeout, used when capture does not set its own. */
const DEFAULT_WAL_SENDER_TIMEOUT_MS = 60_000;

/** Rows of an open transaction held before they go to the pipeline as a part. */
export const PART_ROWS = 500;
/** Column text characters of an open transaction held before they go as a part. */
export const PART_BYTES = 4 * 1024 * 1024;

/** Options of {@link PgoutputSource}. */
export interface PgoutputSourceOptions {
  readonly databaseUrl: string;
  readonly slot: string;
  readonly publication: string;
  /** The outbox table: inserts into other published tables are ignored. */
  readonly schema: string;
  readonly table: string;
  /** Prefix of heartbeat messages (`pg_logical_emit_message`). */
  readonly heartbeatPrefix: string;
  /** `wal_sender_timeout` for this connection, or `null` for the server setting. */
  readonly walSenderTimeoutMs: number | null;
  /** Nothing received for this long ends the stream (retriable); 0 disables. */
  readonly silenceTimeoutMs: number;
  /** The slot's confirmed position when streaming starts: never report less. */
  readonly initialConfirmed: bigint;
  readonly logger: Logger;
}

/** The slot is held by another walsender (SQLSTATE 55006): wait as a standby. */
export class SlotBusyError extends CaptureError {
  constructor(message: string, cause: unknown) {
    super('CAPTURE_STREAM_ENDED', message, { retriable: true, cause });
  }
}

const keepText = (text: string): string => text;

/**
 * pgoutput parser that leaves every column as text: the router needs the payload exactly as
 * stored (no JSON.parse + JSON.stringify round trip per event), and counts messages as they
 * are received so the source knows when everything received has also been handled.
 */
class TextPgoutputPlugin extends PgoutputPlugin {
  received = 0;
  /** The library parser's relation cache (filled as RELATION messages arrive). */
  readonly #relations = (
    this as unknown as { parser: { _relationCache: Map<number, Pgoutput.MessageRelation> } }
  ).parser._relationCache;

  override parse(buffer: Buffer): Pgoutput.Message {
    this.received += 1;
    const insert = decodeInsert(buffer, this.#relations);
    if (insert !== undefined) return insert;
    const message = super.parse(buffer);
    if (message.tag === 'relation') {
      // The parser caches this relation object and decodes later inserts with these
      // parsers, synchronously on receipt, so this must happen here and not in a handler.
      for (const column of message.columns) column.parser = keepText;
    }
    return message;
  }
}

interface OpenTransaction {
  readonly xid: number;
  readonly commitLsn: bigint;
  readonly commitTimeMicros: bigint;
  /** Rows received and not yet delivered. */
  rows: OutboxRow[];
  /** Column text characters of `rows`. */
  bytes: number;
  /** Rows delivered in parts before: the sequence of `rows[0]`. */
  delivered: number;
}

/** Characters of a row's column text (a cheap stand-in for its size). */
function rowLength(row: OutboxRow): number {
  let length = 0;
  for (const key in row) length += row[key]?.length ?? 0;
  return length;
}

/** Maps a pg error from START_REPLICATION or the stream to a capture error. */
export function classifyReplicationError(error: unknown, slot: string): CaptureError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === '55006') {
    return new SlotBusyError(
      `replication slot ${slot} is held by another process: ${message}`,
      error,
    );
  }
  if (code === '42704' || /does not exist/.test(message)) {
    return new CaptureError('CAPTURE_SLOT_LOST', `Replication slot ${slot} is gone: ${message}`, {
      cause: error,
    });
  }
  if (/can no longer get changes|invalidated/i.test(message)) {
    return new CaptureError(
      'CAPTURE_SLOT_INVALIDATED',
      `Replication slot ${slot} was invalidated: ${message}`,
      { cause: error },
    );
  }
  return new CaptureError('CAPTURE_STREAM_ENDED', `Replication stream failed: ${message}`, {
    retriable: true,
    cause: error,
  });
}

/** A {@link ChangeStream} reading a pgoutput slot. One instance streams once. */
export class PgoutputSource implements ChangeStream {
  readonly #options: PgoutputSourceOptions;
  readonly #service: LogicalReplicationService;
  readonly #plugin: TextPgoutputPlugin;
  #listener: ChangeListener | undefined;
  #open: OpenTransaction | undefined;
  #processed = 0;
  #confirmed: bigint;
  #stopping = false;
  #failure: CaptureError | undefined;
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  #lastReceivedAt = Date.now();
  /** A message is being handled (it may wait on Kafka): not silence. */
  #handling = false;
  #watchdog: NodeJS.Timeout | undefined;
  #statusTimer: NodeJS.Timeout | undefined;
  readonly ended: Promise<void>;

  constructor(options: PgoutputSourceOptions) {
    this.#options = options;
    this.#confirmed = options.initialConfirmed;
    const settings = ['-c DateStyle=ISO', '-c TimeZone=UTC', '-c IntervalStyle=iso_8601'];
    if (options.walSenderTimeoutMs !== null) {
      settings.push(`-c wal_sender_timeout=${options.walSenderTimeoutMs}`);
    }
    this.#service = new LogicalReplicationService(
      {
        connectionString: options.databaseUrl,
        // Text output of timestamps depends on the session: fix it so rows parse the same
        // everywhere.
        options: settings.join(' '),
        application_name: `tributary-capture:${options.slot}`,
        // Never wait forever for a connection that will not answer (half-open network).
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      },
      {
        acknowledge: { auto: false, timeoutSeconds: 0 },
        flowControl: { enabled: true },
      },
    );
    this.#plugin = new TextPgoutputPlugin({
      protoVersion: 1,
      publicationNames: [options.publication],
      // Heartbeats arrive as logical decoding messages.
      messages: true,
    });
    this.ended = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.ended.catch(() => undefined);
  }

  get confirmed(): bigint {
    return this.#confirmed;
  }

  async start(listener: ChangeListener): Promise<void> {
    this.#listener = listener;
    const service = this.#service;
    // Returned, not voided: with flow control the library awaits it (back-pressure).
    service.on('data', async (lsn: string, message: Pgoutput.Message) => {
      this.#lastReceivedAt = Date.now();
      this.#handling = true;
      try {
        await this.#onMessage(lsn, message);
      } finally {
        this.#handling = false;
        this.#lastReceivedAt = Date.now();
      }
    });
    service.on('heartbeat', (lsn: string, _time: number, shouldRespond: boolean) => {
      this.#lastReceivedAt = Date.now();
      this.#onKeepalive(lsn, shouldRespond);
    });
    this.#startWatchdog();
    this.#startStatusUpdates();
    service.on('error', (error: Error) => {
      this.#end(classifyReplicationError(error, this.#options.slot));
    });
    const started = new Promise<void>((resolve) => {
      service.once('start', () => resolve());
    });
    const streaming = service.subscribe(this.#plugin, this.#options.slot);
    streaming.then(
      () => this.#end(undefined),
      (error: unknown) => this.#end(classifyReplicationError(error, this.#options.slot)),
    );
    await Promise.race([
      started,
      this.ended.then(() => {
        throw new CaptureError(
          'CAPTURE_STREAM_ENDED',
          'replication stream ended before it started',
          {
            retriable: true,
          },
        );
      }),
    ]);
  }

  confirm(position: bigint): void {
    // The library sends its argument + 1 as the flushed position; PostgreSQL then skips
    // every transaction whose commit record starts before that position. Confirming the
    // end of a commit record is exact; one byte more could skip a transaction whose commit
    // record starts right there.
    if (position <= 0n) return;
    if (position > this.#confirmed) this.#confirmed = position;
    if (this.#stopping && this.#failure !== undefined) return;
    void this.#service.acknowledge(formatLsn(this.#confirmed - 1n));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    // The library's stop ends the client politely and waits for the server, which a
    // black-holed connection never answers: bounded, then its socket is destroyed.
    const client = (
      this.#service as unknown as {
        _client?: { connection?: { stream?: { destroy(): void } } } | null;
      }
    )._client;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#service.stop(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, STOP_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      client?.connection?.stream?.destroy();
      this.#service.removeAllListeners();
      this.#end(undefined);
    }
  }

  /** Everything received was handled and no transaction is open. */
  #idle(): boolean {
    return this.#open === undefined && this.#processed === this.#plugin.received;
  }

  #onKeepalive(lsnText: string, shouldRespond: boolean): void {
    if (this.#listener === undefined || this.#failure !== undefined) return;
    // The keepalive's LSN is the walsender's position: every transaction that committed
    // before it was sent before it. If all of those were handled, the pipeline may confirm
    // up to it once they are durable, so an idle outbox does not pin WAL.
    if (this.#idle()) this.#listener.quietPosition(parseLsn(lsnText));
    // Answer requests with the durable position (never more), or the walsender hangs up
    // after wal_sender_timeout.
    if (shouldRespond && this.#confirmed > 0n) {
      void this.#service.acknowledge(formatLsn(this.#confirmed - 1n));
    }
  }

  async #onMessage(lsnText: string, message: Pgoutput.Message): Promise<void> {
    try {
      if (this.#failure !== undefined || this.#stopping) return;
      await this.#handle(lsnText, message);
    } catch (error) {
      this.#end(
        error instanceof CaptureError
          ? error
          : new CaptureError(
              'CAPTURE_STREAM_ENDED',
              `Handling WAL message failed: ${String(error)}`,
              {
                retriable: true,
                cause: error,
              },
            ),
      );
    } finally {
      this.#processed += 1;
    }
  }

  async #handle(lsnText: string, message: Pgoutput.Message): Promise<void> {
    const listener = this.#listener as ChangeListener;
    switch (message.tag) {
      case 'begin': {
        if (this.#open !== undefined) throw new Error('BEGIN inside an open transaction');
        this.#open = {
          xid: message.xid,
          commitLsn: parseLsn(message.commitLsn ?? '0/0'),
          // The parser gives µs since the Unix epoch.
          commitTimeMicros: BigInt(message.commitTime as bigint),
          rows: [],
          bytes: 0,
          delivered: 0,
        };
        return;
      }
      case 'insert': {
        const open = this.#open;
        if (open === undefined) throw new Error('INSERT outside a transaction');
        const { relation } = message;
        if (relation.schema !== this.#options.schema || relation.name !== this.#options.table) {
          return;
        }
        const row = message.new as OutboxRow;
        open.rows.push(row);
        open.bytes += (message as Partial<DecodedInsert>).columnBytes ?? rowLength(row);
        if (open.rows.length >= PART_ROWS || open.bytes >= PART_BYTES) {
          const rows = open.rows;
          const firstSequence = open.delivered;
          open.rows = [];
          open.bytes = 0;
          open.delivered += rows.length;
          // Awaited: flow control keeps the socket paused until the pipeline took them.
          await listener.part({
            xid: open.xid,
            commitLsn: open.commitLsn,
            commitTimeMicros: open.commitTimeMicros,
            firstSequence,
            rows,
          });
        }
        return;
      }
      case 'commit': {
        const open = this.#open;
        if (open === undefined) throw new Error('COMMIT outside a transaction');
        this.#open = undefined;
        const transaction: SourceTransaction = {
          xid: open.xid,
          commitLsn: open.commitLsn,
          commitEndLsn: parseLsn(message.commitEndLsn ?? '0/0'),
          commitTimeMicros: open.commitTimeMicros,
          firstSequence: open.delivered,
          rows: open.rows,
        };
        // Awaited: flow control keeps the socket paused until the pipeline took it.
        await listener.transaction(transaction);
        return;
      }
      case 'message': {
        if (
          !message.transactional &&
          message.prefix === this.#options.heartbeatPrefix &&
          this.#open === undefined
        ) {
          listener.quietPosition(parseLsn(message.messageLsn ?? lsnText));
        }
        return;
      }
      case 'relation':
      case 'type':
      case 'origin':
      case 'update':
      case 'delete':
      case 'truncate':
        return;
    }
  }

  /**
   * Ends a stream that stopped delivering anything: on a half-open connection (the peer
   * gone without a reset) neither the socket nor the library ever reports an error.
   */
  #startWatchdog(): void {
    const limit = this.#options.silenceTimeoutMs;
    if (limit <= 0) return;
    this.#lastReceivedAt = Date.now();
    this.#watchdog = setInterval(
      () => {
        const silentMs = Date.now() - this.#lastReceivedAt;
        if (this.#handling || silentMs < limit) return;
        this.#end(
          new CaptureError(
            'CAPTURE_STREAM_ENDED',
            `Replication stream silent for ${silentMs} ms (no change, heartbeat or keepalive; replicationSilenceTimeoutMs ${limit}): the connection is presumed dead`,
            { retriable: true },
          ),
        );
      },
      Math.min(limit, 5_000),
    );
    // The replication socket keeps the process alive while streaming; the watchdog must not.
    this.#watchdog.unref();
  }

  /**
   * Sends the durable position to the walsender on a timer, not only in answer to its
   * keepalives. While the pipeline holds the stream back (flow control: Kafka is slow, a
   * large transaction is being published), nothing is read, so keepalive requests wait
   * unread in the socket; the walsender hears nothing for wal_sender_timeout and hangs up,
   * capture restarts from its checkpoint, and under a large backlog does so again and again,
   * confirming a little each time (found by the soak: its 5 s timeout and a loaded machine).
   * The walsender reads replies even while its send buffer is full. A status update never
   * confirms more than what is durable in Kafka; a frozen process sends none, so a hung
   * instance still loses its slot after wal_sender_timeout.
   */
  #startStatusUpdates(): void {
    const timeoutMs = this.#options.walSenderTimeoutMs ?? DEFAULT_WAL_SENDER_TIMEOUT_MS;
    const every = Math.min(10_000, Math.max(250, Math.floor(timeoutMs / 4)));
    this.#statusTimer = setInterval(() => {
      if (this.#stopping || this.#failure !== undefined || this.#confirmed <= 0n) return;
      this.#service.acknowledge(formatLsn(this.#confirmed - 1n)).catch(() => undefined);
    }, every);
    this.#statusTimer.unref();
  }

  #end(failure: CaptureError | undefined): void {
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    if (this.#statusTimer !== undefined) clearInterval(this.#statusTimer);
    const settle = this.#settle;
    if (settle === undefined) return;
    this.#settle = undefined;
    if (failure !== undefined && !this.#stopping) {
      this.#failure = failure;
      settle.reject(failure);
      // Stop reading: nothing after a failure may reach the pipeline.
      void this.#service.stop().catch(() => undefined);
    } else if (this.#stopping) {
      settle.resolve();
    } else {
      this.#failure = new CaptureError('CAPTURE_STREAM_ENDED', 'replication stream closed', {
        retriable: true,
      });
      settle.reject(this.#failure);
    }
  }
}
