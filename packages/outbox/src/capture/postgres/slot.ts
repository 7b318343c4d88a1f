/**
 * Slot and publication guardrails: create what is missing when configuration allows it,
 * refuse otherwise, and never recreate a slot that existed once (detected through the
 * Kafka checkpoint): a recreated slot starts at the current WAL position, so everything
 * committed in between would be lost without a trace.
 */
import type pg from 'pg';
import { type Logger, quoteIdentifier } from '@tributary/core';
import type { OutboxConfig } from '../../config.js';
import type { CaptureSlotConfig } from '../config.js';
import { CaptureError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';

/** A replication slot as `pg_replication_slots` shows it. */
export interface SlotState {
  readonly name: string;
  readonly plugin: string | null;
  readonly slotType: string;
  readonly database: string | null;
  readonly active: boolean;
  readonly activePid: number | null;
  /** `reserved`, `extended`, `unreserved` or `lost` (invalidated). */
  readonly walStatus: string | null;
  readonly confirmedFlushLsn: bigint | null;
  readonly restartLsn: bigint | null;
}

interface SlotRow {
  slot_name: string;
  plugin: string | null;
  slot_type: string;
  database: string | null;
  active: boolean;
  active_pid: number | null;
  wal_status: string | null;
  confirmed_flush_lsn: string | null;
  restart_lsn: string | null;
}

/** Reads one slot; `undefined` if it does not exist. */
export async function inspectSlot(
  client: pg.ClientBase | pg.Pool,
  slot: string,
): Promise<SlotState | undefined> {
  const { rows } = await client.query<SlotRow>(
    `select slot_name, plugin, slot_type, database, active, active_pid, wal_status,
            confirmed_flush_lsn::text, restart_lsn::text
       from pg_replication_slots where slot_name = $1`,
    [slot],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    name: row.slot_name,
    plugin: row.plugin,
    slotType: row.slot_type,
    database: row.database,
    active: row.active,
    activePid: row.active_pid,
    walStatus: row.wal_status,
    confirmedFlushLsn: row.confirmed_flush_lsn === null ? null : parseLsn(row.confirmed_flush_lsn),
    restartLsn: row.restart_lsn === null ? null : parseLsn(row.restart_lsn),
  };
}

/** @throws CaptureError `CAPTURE_WAL_LEVEL` unless `wal_level = logical`. */
export async function assertLogicalWal(client: pg.ClientBase | pg.Pool): Promise<void> {
  const { rows } = await client.query<{ wal_level: string }>('show wal_level');
  const level = rows[0]?.wal_level;
  if (level !== 'logical') {
    throw new CaptureError(
      'CAPTURE_WAL_LEVEL',
      `PostgreSQL has wal_level=${String(level)}; the capturer needs wal_level=logical (set it in postgresql.conf and restart the server)`,
    );
  }
}

/**
 * Makes sure the publication exists, covers the outbox table and publishes inserts.
 *
 * @throws CaptureError `CAPTURE_PUBLICATION_MISSING` when it is missing and may not be
 * created, or exists without the outbox table or without inserts.
 */
export async function ensurePublication(
  client: pg.ClientBase | pg.Pool,
  slot: CaptureSlotConfig,
  outbox: OutboxConfig,
  logger: Logger,
): Promise<void> {
  const publication = quoteIdentifier('publication', slot.publication);
  const table = `${quoteIdentifier('schema', outbox.schema)}.${quoteIdentifier('table', outbox.eventsTable)}`;
  const found = await client.query<{ pubinsert: boolean; has_table: boolean }>(
    `select p.pubinsert,
            exists (select 1 from pg_publication_tables t
                     where t.pubname = p.pubname and t.schemaname = $2 and t.tablename = $3) as has_table
       from pg_publication p where p.pubname = $1`,
    [slot.publication, outbox.schema, outbox.eventsTable],
  );
  const existing = found.rows[0];
  if (existing === undefined) {
    if (!slot.createPublication) {
      throw new CaptureError(
        'CAPTURE_PUBLICATION_MISSING',
        `Publication ${slot.publication} does not exist and slot.createPublication is false. Create it with: create publication ${publication} for table ${table} with (publish = 'insert')`,
      );
    }
    try {
      // Inserts only: the outbox is append-only, and updates or deletes (cleanup jobs) must
      // never turn into events.
      await client.query(
        `create publication ${publication} for table ${table} with (publish = 'insert')`,
      );
      logger.info('created publication', {
        publication: slot.publication,
        table: `${outbox.schema}.${outbox.eventsTable}`,
      });
    } catch (error) {
      // Another instance created it at the same moment.
      if ((error as { code?: string }).code !== '42710') throw error;
    }
    return;
  }
  if (!existing.has_table || !existing.pubinsert) {
    throw new CaptureError(
      'CAPTURE_PUBLICATION_MISSING',
      `Publication ${slot.publication} exists but ${existing.has_table ? 'does not publish inserts' : `does not include ${outbox.schema}.${outbox.eventsTable}`}`,
    );
  }
}

/** What {@link ensureSlot} needs to know about the Kafka side. */
export interface SlotCheckContext {
  /** The checkpoint of this capturer, if one exists: proof that the slot existed before. */
  readonly checkpoint: bigint | undefined;
  readonly capturer: string;
}

/**
 * Makes sure the slot exists and is usable; creates it on first start when allowed.
 *
 * @throws CaptureError `CAPTURE_SLOT_LOST` (missing although a checkpoint exists),
 * `CAPTURE_SLOT_INVALIDATED` (WAL removed), `CAPTURE_SLOT_MISSING` (may not create),
 * `CAPTURE_SLOT_MISMATCH` (other plugin, type or database). None is retriable.
 */
export async function ensureSlot(
  client: pg.ClientBase | pg.Pool,
  slot: CaptureSlotConfig,
  outbox: OutboxConfig,
  context: SlotCheckContext,
  logger: Logger,
): Promise<SlotState> {
  const existing = await inspectSlot(client, slot.name);
  if (existing !== undefined) {
    await assertSlotUsable(client, existing);
    return existing;
  }
  if (context.checkpoint !== undefined) {
    throw new CaptureError(
      'CAPTURE_SLOT_LOST',
      `Replication slot ${slot.name} is gone, but capturer ${context.capturer} has a Kafka checkpoint at ${formatLsn(context.checkpoint)}: ` +
        'the slot was dropped or lost, and events committed since then may be missing from Kafka. ' +
        'The capturer never recreates a slot silently. Reconcile the outbox with Kafka, then create the slot yourself ' +
        `(select pg_create_logical_replication_slot('${slot.name}', 'pgoutput')) or start under a new capturer name.`,
      { details: { slot: slot.name, checkpoint: formatLsn(context.checkpoint) } },
    );
  }
  if (!slot.create) {
    throw new CaptureError(
      'CAPTURE_SLOT_MISSING',
      `Replication slot ${slot.name} does not exist and slot.create is false. Create it with: select pg_create_logical_replication_slot('${slot.name}', 'pgoutput')`,
    );
  }
  try {
    await client.query(`select pg_create_logical_replication_slot($1, 'pgoutput')`, [slot.name]);
    logger.info('created replication slot', { slot: slot.name });
  } catch (error) {
    if ((error as { code?: string }).code !== '42710') throw error;
  }
  const table = `${quoteIdentifier('schema', outbox.schema)}.${quoteIdentifier('table', outbox.eventsTable)}`;
  const { rows } = await client.query<{ has_rows: boolean }>(
    `select exists (select 1 from ${table}) as has_rows`,
  );
  if (rows[0]?.has_rows === true) {
    logger.warn(
      'the outbox already holds events written before the slot existed: they are NOT captured (only rows committed after slot creation are streamed)',
      { slot: slot.name, table: `${outbox.schema}.${outbox.eventsTable}` },
    );
  }
  const created = await inspectSlot(client, slot.name);
  if (created === undefined) {
    throw new CaptureError(
      'CAPTURE_SLOT_LOST',
      `Replication slot ${slot.name} vanished right after creation`,
    );
  }
  return created;
}

/**
 * @throws CaptureError `CAPTURE_SLOT_INVALIDATED` when the slot lost its WAL, or
 * `CAPTURE_SLOT_MISMATCH` when it is not a logical pgoutput slot of this database.
 */
export async function assertSlotUsable(
  client: pg.ClientBase | pg.Pool,
  state: SlotState,
): Promise<void> {
  if (state.walStatus === 'lost') {
    throw new CaptureError(
      'CAPTURE_SLOT_INVALIDATED',
      `Replication slot ${state.name} was invalidated (wal_status=lost, see max_slot_wal_keep_size): the WAL it needed is gone and events may be missing from Kafka. ` +
        'Reconcile the outbox with Kafka before dropping and recreating the slot.',
      { details: { slot: state.name } },
    );
  }
  const { rows } = await client.query<{ db: string }>('select current_database() as db');
  const database = rows[0]?.db ?? null;
  if (state.slotType !== 'logical' || state.plugin !== 'pgoutput' || state.database !== database) {
    throw new CaptureError(
      'CAPTURE_SLOT_MISMATCH',
      `Replication slot ${state.name} is a ${state.slotType} slot with plugin ${String(state.plugin)} on database ${String(state.database)}; the capturer needs a logical pgoutput slot on ${String(database)}`,
    );
  }
}
