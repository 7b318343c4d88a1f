/**
 * The PostgreSQL {@link ChangeSource}: guardrails (wal_level, publication, slot, lost-slot
 * detection), taking the slot or reporting it busy, heartbeats through
 * `pg_logical_emit_message` and WAL-lag queries, over one admin connection per pipeline run.
 * Streaming itself is {@link PgoutputSource}.
 */
import pg from 'pg';
import type { CaptureConfig } from '../config.js';
import { CaptureError } from '../errors.js';
import { silentLogger, type Logger } from '@tributary/core';
import { formatLsn, parseLsn } from '../lsn.js';
import type {
  ChangeListener,
  ChangeSource,
  SourceAcquisition,
  SourceIdentification,
  SourceLag,
  SourcePreparation,
} from '../source.js';
import { CONNECT_TIMEOUT_MS, PgoutputSource, SlotBusyError } from './pgoutput-source.js';
import {
  assertLogicalWal,
  assertSlotUsable,
  ensurePublication,
  ensureSlot,
  inspectSlot,
} from './slot.js';

/** The settings a {@link createPostgresChangeSource} source reads (a `CaptureConfig` fits). */
export type PostgresChangeSourceConfig = Pick<
  CaptureConfig,
  | 'name'
  | 'databaseUrl'
  | 'outbox'
  | 'slot'
  | 'heartbeatPrefix'
  | 'walSenderTimeoutMs'
  | 'replicationSilenceTimeoutMs'
>;

/** Options of {@link createPostgresChangeSource}. */
export interface PostgresChangeSourceOptions {
  readonly config: PostgresChangeSourceConfig;
  /** Default: silent. */
  readonly logger?: Logger;
}

/**
 * Creates the PostgreSQL change source for one pipeline run; nothing connects until
 * `prepare`. Pass `() => createPostgresChangeSource(options)` to `createCapturer`.
 */
export function createPostgresChangeSource(options: PostgresChangeSourceOptions): ChangeSource {
  return new PostgresChangeSource(options.config, options.logger ?? silentLogger);
}

/**
 * Client-side bound of the capturer's SQL queries (guardrails, slot, heartbeats, lag): on a
 * half-open connection a query is never answered and nothing errors.
 */
const SQL_QUERY_TIMEOUT_MS = 30_000;
/** How long closing the SQL connection may wait for the server. */
const CLOSE_TIMEOUT_MS = 5_000;

/** Destroys a pg client's socket (no-op once closed). */
function destroySocket(client: pg.Client): void {
  (
    client as unknown as { connection?: { stream?: { destroy(): void } } }
  ).connection?.stream?.destroy();
}

class PostgresChangeSource implements ChangeSource {
  readonly #config: PostgresChangeSourceConfig;
  readonly #logger: Logger;
  readonly #admin: pg.Client;
  readonly failed: Promise<never>;

  constructor(config: PostgresChangeSourceConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#admin = new pg.Client({
      connectionString: config.databaseUrl,
      application_name: `tributary-capture-admin:${config.name}`,
      // A connect into a half-open network would otherwise wait forever, and the restart
      // with it (fault matrix: postgres proxy half-open); so would a query sent into it.
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: SQL_QUERY_TIMEOUT_MS,
    });
    let adminFailure: ((error: unknown) => void) | undefined;
    this.failed = new Promise<never>((_resolve, reject) => {
      adminFailure = reject;
    });
    this.failed.catch(() => undefined);
    this.#admin.on('error', (error) => {
      adminFailure?.(
        new CaptureError('CAPTURE_STREAM_ENDED', `PostgreSQL connection failed: ${error.message}`, {
          retriable: true,
          cause: error,
        }),
      );
    });
  }

  get slot(): string {
    return this.#config.slot.name;
  }

  async prepare(preparation: SourcePreparation): Promise<void> {
    const config = this.#config;
    const admin = this.#admin;
    await admin.connect();
    await assertLogicalWal(admin);
    await ensurePublication(admin, config.slot, config.outbox, this.#logger);
    const existing = await inspectSlot(admin, config.slot.name);
    // The checkpoint is read here only to tell a first start from a lost slot.
    const priorCheckpoint = existing === undefined ? await preparation.readCheckpoint() : undefined;
    await ensureSlot(
      admin,
      config.slot,
      config.outbox,
      {
        checkpoint: priorCheckpoint,
        capturer: config.name,
      },
      this.#logger,
    );
  }

  async identify(): Promise<SourceIdentification> {
    // IDENTIFY_SYSTEM on a replication connection: it needs only the replication privilege
    // the capturer has anyway (pg_control_system() is for superusers and pg_monitor).
    // `replication` is a libpq startup setting pg passes on but does not declare.
    const replication = new pg.Client({
      connectionString: this.#config.databaseUrl,
      replication: 'database',
      application_name: `tributary-capture-identify:${this.#config.name}`,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: SQL_QUERY_TIMEOUT_MS,
    } as pg.ClientConfig);
    replication.on('error', () => undefined);
    await replication.connect();
    try {
      const { rows } = await replication.query<{
        systemid: string;
        xlogpos: string;
        dbname: string | null;
      }>('IDENTIFY_SYSTEM');
      const row = rows[0];
      if (row?.dbname == null) throw new Error('IDENTIFY_SYSTEM returned no database');
      return {
        identity: {
          system: String(row.systemid),
          database: row.dbname,
          slot: this.#config.slot.name,
        },
        head: parseLsn(row.xlogpos),
      };
    } finally {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        replication.end().catch(() => undefined),
        new Promise((resolve) => {
          timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      destroySocket(replication);
    }
  }

  async acquire(listener: ChangeListener): Promise<SourceAcquisition> {
    const config = this.#config;
    const state = await inspectSlot(this.#admin, config.slot.name);
    if (state === undefined) {
      throw new CaptureError(
        'CAPTURE_SLOT_LOST',
        `Replication slot ${config.slot.name} disappeared while this capturer was using or waiting for it; it is never recreated silently`,
      );
    }
    await assertSlotUsable(this.#admin, state);
    if (!state.active) {
      const candidate = new PgoutputSource({
        databaseUrl: config.databaseUrl,
        slot: config.slot.name,
        publication: config.slot.publication,
        schema: config.outbox.schema,
        table: config.outbox.eventsTable,
        heartbeatPrefix: config.heartbeatPrefix,
        walSenderTimeoutMs: config.walSenderTimeoutMs,
        silenceTimeoutMs: config.replicationSilenceTimeoutMs,
        initialConfirmed: state.confirmedFlushLsn ?? 0n,
        logger: this.#logger,
      });
      try {
        await candidate.start(listener);
        return { acquired: true, stream: candidate };
      } catch (error) {
        await candidate.stop().catch(() => undefined);
        // The slot was free when inspected but another instance took it first: standby.
        if (!(error instanceof SlotBusyError)) throw error;
      }
    }
    return { acquired: false, activePid: state.activePid };
  }

  async heartbeat(): Promise<void> {
    // A WAL record in this database that the slot must decode: while the outbox is idle,
    // confirming it lets the slot release WAL that other tables wrote.
    await this.#admin.query('select pg_logical_emit_message(false, $1, $2)', [
      this.#config.heartbeatPrefix,
      this.#config.name,
    ]);
  }

  async lag(): Promise<SourceLag | undefined> {
    const { rows } = await this.#admin.query<{
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
    if (row === undefined) return undefined;
    const current = parseLsn(row.current);
    return {
      lagBytes: row.confirmed === null ? null : Number(current - parseLsn(row.confirmed)),
      retainedBytes: row.restart === null ? null : Number(current - parseLsn(row.restart)),
    };
  }

  async awaitConfirmed(position: bigint): Promise<void> {
    if (position === 0n) return;
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      const state = await inspectSlot(this.#admin, this.#config.slot.name);
      if ((state?.confirmedFlushLsn ?? 0n) >= position) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    this.#logger.warn('PostgreSQL did not report the final confirmation in time', {
      position: formatLsn(position),
    });
  }

  async close(): Promise<void> {
    // A polite end waits for the server's goodbye, which a black-holed connection never
    // sends: bounded, then the socket is destroyed.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#admin.end().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    destroySocket(this.#admin);
  }
}
