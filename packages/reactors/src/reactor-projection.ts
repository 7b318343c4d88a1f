import type { AnyProjection, ProjectionContext, ProjectedEvent } from '@tributary/projections';
import type { Knex } from 'knex';
import {
  createReactorContext,
  type ReactorContextServices,
  type TransactionalCommandExecutor,
} from './context.js';
import { reactorVersion, validateReactor, type AnyReactor } from './reactor.js';

/**
 * A command bus for one whole batch whose appends are held back and written together by
 * `flush` (see `BatchedEventStore`).
 */
export interface BatchedCommandExecutor extends TransactionalCommandExecutor {
  /** Writes the held appends; throws when any is not appended as announced. */
  flush(): Promise<void>;
}

/** What the runtime gives {@link reactorProjection} to run whole batches at once. */
export interface ReactorBatchServices {
  /** A fresh batched command bus over the batch transaction. */
  batchedCommandBus(trx: Knex.Transaction): BatchedCommandExecutor;
}

/**
 * A reactor as the projection runtime runs it: a projection without tables whose handler
 * calls the reactor with a context bound to the batch transaction. Everything the projection
 * runtime guarantees (checkpoint in the same transaction, savepoint per handler, ordering
 * guard, retries, park / dead-letter / stop) thereby holds for the reactor's commands too.
 * The Kafka reactor runtime and the in-memory one both run reactors through this.
 *
 * With `batch` services, the projection also gets a batch handler: the batch's events go
 * through the reactor's handler one after the other, in order, with a command bus that
 * holds the appends back and writes them in one statement at the end (instead of two
 * savepoints, a read and an append per event), in the same transaction as the checkpoint.
 * When anything fails (a handler, a refused command it did not catch, a conflict or a
 * recorded command id found when writing), the projection runtime rolls the batch back and
 * runs it again event by event through the ordinary handler — savepoint per event, the
 * failing event blamed alone, retries and the poison policy as before.
 */
export function reactorProjection(
  reactor: AnyReactor,
  services: ReactorContextServices,
  batch?: ReactorBatchServices,
): AnyProjection {
  validateReactor(reactor);
  const identity = { name: reactor.name, version: reactorVersion(reactor) };
  const handle = (event: ProjectedEvent, { trx }: ProjectionContext): Promise<void> | void =>
    reactor.handle(event, createReactorContext(identity, event, trx, services));
  const handlers: Record<string, typeof handle> = {};
  for (const types of Object.values(reactor.events)) {
    for (const type of types) handlers[type] = handle;
  }
  const batchHandler =
    batch === undefined
      ? undefined
      : async (events: readonly ProjectedEvent[], { trx }: ProjectionContext): Promise<void> => {
          const bus = batch.batchedCommandBus(trx);
          const batchServices: ReactorContextServices = { ...services, commandBus: () => bus };
          for (const event of events)
            await reactor.handle(event, createReactorContext(identity, event, trx, batchServices));
          await bus.flush();
        };
  return {
    name: reactor.name,
    version: identity.version,
    aggregateTypes: Object.keys(reactor.events),
    tables: [],
    migrations: [],
    handlers,
    ...(batchHandler === undefined ? {} : { batchHandler }),
    ...(reactor.ordering === undefined ? {} : { ordering: reactor.ordering }),
    ...(reactor.poison === undefined ? {} : { poison: reactor.poison }),
  };
}
