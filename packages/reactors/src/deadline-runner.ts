import { silentLogger, type Logger } from '@tributary/core';
import type { Knex } from 'knex';
import type { TransactionalCommandExecutor } from './context.js';
import { isFinalRejection, type DeadlineStore } from './deadlines.js';

/** Options of {@link DeadlineRunner}. */
export interface DeadlineRunnerOptions {
  readonly knex: Knex;
  readonly deadlines: DeadlineStore;
  commandBus(trx: Knex.Transaction): TransactionalCommandExecutor;
  readonly clock: () => Date;
  /** Most commands per transaction. */
  readonly batchSize: number;
  readonly logger?: Logger;
}

/** What one {@link DeadlineRunner.runDue} did. */
export interface DeadlineRun {
  /** Scheduled commands executed (their events committed). */
  readonly executed: number;
  /** Scheduled commands rejected by their aggregate (kept as `failed` with the error). */
  readonly failed: number;
}

/**
 * Executes due scheduled commands exactly once: each batch is claimed `for update skip
 * locked` (several processes share the work without waiting on each other), each command
 * runs in a savepoint on the command bus bound to the same transaction, with the scheduled
 * id as its command id, and its row is marked in that transaction. A crash before COMMIT
 * leaves the rows pending and nothing appended; after COMMIT they are settled.
 */
export class DeadlineRunner {
  readonly #options: DeadlineRunnerOptions;

  constructor(options: DeadlineRunnerOptions) {
    this.#options = options;
  }

  /** Executes every command due now, batch after batch. A transient failure throws (rows stay pending). */
  async runDue(): Promise<DeadlineRun> {
    let executed = 0;
    let failed = 0;
    for (;;) {
      const run = await this.#runBatch();
      executed += run.executed;
      failed += run.failed;
      if (run.claimed < this.#options.batchSize) return { executed, failed };
    }
  }

  async #runBatch(): Promise<DeadlineRun & { claimed: number }> {
    const { knex, deadlines, batchSize } = this.#options;
    const logger = this.#options.logger ?? silentLogger;
    return knex.transaction(async (trx) => {
      const due = await deadlines.claimDue(trx, this.#options.clock(), batchSize);
      let executed = 0;
      let failed = 0;
      for (const scheduled of due) {
        try {
          await trx.transaction(async (savepoint) => {
            await this.#options.commandBus(savepoint).execute(deadlines.commandOf(scheduled), {
              commandId: scheduled.id,
              ...(scheduled.correlationId === null
                ? {}
                : { correlationId: scheduled.correlationId }),
              ...(scheduled.causationId === null ? {} : { causationId: scheduled.causationId }),
              metadata: { reactor: scheduled.reactor, scheduledCommandId: scheduled.id },
            });
          });
          await deadlines.settle(trx, scheduled.id, { status: 'executed' });
          executed += 1;
        } catch (error) {
          if (!isFinalRejection(error)) throw error;
          // The aggregate said no (e.g. the order was paid before its payment deadline):
          // an outcome, not a fault — kept with the reason, never retried.
          const message = error instanceof Error ? error.message : String(error);
          await deadlines.settle(trx, scheduled.id, { status: 'failed', error: message });
          logger.info('scheduled command rejected', { id: scheduled.id, error: message });
          failed += 1;
        }
      }
      return { executed, failed, claimed: due.length };
    });
  }
}
