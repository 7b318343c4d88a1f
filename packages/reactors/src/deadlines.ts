import {
  commandTypeOf,
  isTributaryError,
  type AnyAggregate,
  type CommandClass,
  type JsonValue,
} from '@tributary/core';
import type { Knex } from 'knex';
import { ReactorError } from './errors.js';
import type { ScheduleWhen } from './reactor.js';

/** A scheduled command as stored. */
export interface ScheduledCommand {
  readonly id: string;
  readonly reactor: string;
  readonly key: string | null;
  readonly dueAt: Date;
  readonly commandType: string;
  readonly command: JsonValue;
  readonly correlationId: string | null;
  readonly causationId: string | null;
  readonly status: 'pending' | 'executed' | 'failed' | 'cancelled';
  readonly error: string | null;
}

interface DeadlineRow {
  id: string;
  reactor: string;
  key: string | null;
  due_at: Date | string;
  command_type: string;
  command: JsonValue;
  correlation_id: string | null;
  causation_id: string | null;
  status: ScheduledCommand['status'];
  error: string | null;
}

const toScheduled = (row: DeadlineRow): ScheduledCommand => ({
  id: row.id,
  reactor: row.reactor,
  key: row.key,
  dueAt: new Date(row.due_at),
  commandType: row.command_type,
  command: row.command,
  correlationId: row.correlation_id,
  causationId: row.causation_id,
  status: row.status,
  error: row.error,
});

/** The command classes a service's aggregates handle, by command type. */
export function commandClassesOf(aggregates: readonly AnyAggregate[]): Map<string, CommandClass> {
  const classes = new Map<string, CommandClass>();
  for (const aggregate of aggregates) {
    for (const [type, registered] of aggregate.commands) classes.set(type, registered.commandClass);
  }
  return classes;
}

/** The moment a {@link ScheduleWhen} names. @throws ReactorError `REACTOR_SCHEDULE_INVALID` */
export function dueAtOf(when: ScheduleWhen, now: Date): Date {
  const due =
    'at' in when
      ? new Date(when.at)
      : Number.isFinite(when.after) && when.after >= 0
        ? new Date(now.getTime() + when.after)
        : new Date(Number.NaN);
  if (Number.isNaN(due.getTime())) {
    throw new ReactorError(
      'REACTOR_SCHEDULE_INVALID',
      `schedule needs { at: Date | ISO string } or { after: milliseconds ≥ 0 }, got ${JSON.stringify(when)}`,
    );
  }
  return due;
}

/** Everything a schedule call stores. */
export interface ScheduleRequest {
  readonly id: string;
  readonly reactor: string;
  readonly key: string | undefined;
  readonly dueAt: Date;
  readonly command: object;
  readonly correlationId: string;
  readonly causationId: string;
}

/** Scheduled commands in one table, always written in the caller's transaction. */
export class DeadlineStore {
  constructor(
    readonly table: string,
    readonly commandClasses: ReadonlyMap<string, CommandClass>,
  ) {}

  /**
   * Stores a scheduled command. An id stored before (a replay) changes nothing; otherwise a
   * pending command with the same key is cancelled first (schedule again = replace).
   *
   * @throws ReactorError `REACTOR_COMMAND_UNKNOWN` for a command no aggregate of the service handles.
   */
  async schedule(trx: Knex.Transaction, request: ScheduleRequest): Promise<void> {
    const commandType = commandTypeOf(request.command.constructor as CommandClass);
    if (!this.commandClasses.has(commandType)) {
      throw new ReactorError(
        'REACTOR_COMMAND_UNKNOWN',
        `Cannot schedule command "${commandType}": no aggregate of this service handles it (pass its aggregate in \`aggregates\`)`,
      );
    }
    const existing: unknown = await trx(this.table).where({ id: request.id }).first('id');
    if (existing !== undefined) return;
    if (request.key !== undefined) {
      await trx(this.table)
        .where({ reactor: request.reactor, key: request.key, status: 'pending' })
        .update({ status: 'cancelled', settled_at: trx.fn.now() });
    }
    await trx(this.table).insert({
      id: request.id,
      reactor: request.reactor,
      key: request.key ?? null,
      due_at: request.dueAt,
      command_type: commandType,
      command: JSON.stringify({ ...request.command }),
      correlation_id: request.correlationId,
      causation_id: request.causationId,
    });
  }

  /** Cancels a pending command by id or key. True when one was pending. */
  async cancel(trx: Knex.Transaction, reactor: string, idOrKey: string): Promise<boolean> {
    const count = await trx(this.table)
      .where({ reactor, status: 'pending' })
      .andWhere((where) => {
        void where.where({ id: idOrKey }).orWhere({ key: idOrKey });
      })
      .update({ status: 'cancelled', settled_at: trx.fn.now() });
    return Number(count) > 0;
  }

  /** Locks up to `limit` due pending commands no other process holds (`skip locked`). */
  async claimDue(trx: Knex.Transaction, now: Date, limit: number): Promise<ScheduledCommand[]> {
    const rows = (await trx(this.table)
      .where('status', 'pending')
      .andWhere('due_at', '<=', now)
      .orderBy('due_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .select('*')) as DeadlineRow[];
    return rows.map(toScheduled);
  }

  /** Marks a claimed command as executed or failed. */
  async settle(
    trx: Knex.Transaction,
    id: string,
    outcome: { status: 'executed' } | { status: 'failed'; error: string },
  ): Promise<void> {
    await trx(this.table)
      .where({ id })
      .update({
        status: outcome.status,
        error: outcome.status === 'failed' ? outcome.error : null,
        settled_at: trx.fn.now(),
      });
  }

  /** Scheduled commands of a reactor (every status), oldest due first. */
  async list(knex: Knex, reactor?: string): Promise<ScheduledCommand[]> {
    const query = knex(this.table).orderBy([{ column: 'due_at' }, { column: 'id' }]);
    if (reactor !== undefined) void query.where({ reactor });
    return ((await query.select('*')) as DeadlineRow[]).map(toScheduled);
  }

  /** The command instance a stored row describes. */
  commandOf(scheduled: ScheduledCommand): object {
    const commandClass = this.commandClasses.get(scheduled.commandType);
    if (commandClass === undefined) {
      throw new ReactorError(
        'REACTOR_COMMAND_UNKNOWN',
        `Scheduled command ${scheduled.id} is a "${scheduled.commandType}", which no aggregate of this service handles`,
      );
    }
    return Object.assign(new commandClass(), scheduled.command);
  }
}

/** Whether a command failure is final (a business rejection) rather than worth a retry. */
export function isFinalRejection(error: unknown): boolean {
  return isTributaryError(error) && !error.retriable && error.code !== 'CONCURRENCY_CONFLICT';
}
