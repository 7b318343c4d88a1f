import type { AnyProjection, ProjectionContext, ProjectedEvent } from '@tributary/projections';
import { createReactorContext, type ReactorContextServices } from './context.js';
import { reactorVersion, validateReactor, type AnyReactor } from './reactor.js';

/**
 * A reactor as the projection runtime runs it: a projection without tables whose handler
 * calls the reactor with a context bound to the batch transaction. Everything the projection
 * runtime guarantees (checkpoint in the same transaction, savepoint per handler, ordering
 * guard, retries, park / dead-letter / stop) thereby holds for the reactor's commands too.
 * The Kafka reactor runtime and the in-memory one both run reactors through this.
 */
export function reactorProjection(
  reactor: AnyReactor,
  services: ReactorContextServices,
): AnyProjection {
  validateReactor(reactor);
  const identity = { name: reactor.name, version: reactorVersion(reactor) };
  const handle = (event: ProjectedEvent, { trx }: ProjectionContext): Promise<void> | void =>
    reactor.handle(event, createReactorContext(identity, event, trx, services));
  const handlers: Record<string, typeof handle> = {};
  for (const types of Object.values(reactor.events)) {
    for (const type of types) handlers[type] = handle;
  }
  return {
    name: reactor.name,
    version: identity.version,
    aggregateTypes: Object.keys(reactor.events),
    tables: [],
    migrations: [],
    handlers,
    ...(reactor.ordering === undefined ? {} : { ordering: reactor.ordering }),
    ...(reactor.poison === undefined ? {} : { poison: reactor.poison }),
  };
}
