import type { UpcasterChain } from '@tributary/core';
import { defaultProjectionRuntimeConfig } from '../config.js';
import type { ProjectionStore } from '../store/projection-store.js';
import type { AppliedProjection } from './handlers.js';
import { ProjectionApplier, type ReplayOutcome } from './projection-applier.js';

/** Options of {@link replayParkedEvents}. */
export interface ReplayParkedOptions<Context> {
  readonly store: ProjectionStore<Context>;
  readonly projection: AppliedProjection<Context>;
  readonly upcasters?: UpcasterChain;
  /** Only this aggregate; default every parked aggregate of the projection version. */
  readonly aggregate?: { readonly aggregateType: string; readonly aggregateId: string };
}

/**
 * Replays parked events (`tributary parked replay`): per aggregate, in log order, in one
 * transaction each, then unparks the aggregate so its next events flow again. Safe while the
 * runtime runs: both lock the aggregate's row before touching it.
 */
export async function replayParkedEvents<Context>(
  options: ReplayParkedOptions<Context>,
): Promise<ReplayOutcome[]> {
  const { store, projection } = options;
  const applier = new ProjectionApplier({
    store,
    projection,
    // A replay neither retries nor checks ordering: only the poison policy's need for a
    // dead-letter publisher is consulted, so the defaults do.
    config: defaultProjectionRuntimeConfig,
    ...(options.upcasters === undefined ? {} : { upcasters: options.upcasters }),
    // Replays never dead-letter (a failing replay leaves the aggregate parked), but the
    // applier insists on a publisher when the policy names one.
    deadLetter: () => Promise.reject(new Error('dead letters are not sent while replaying')),
  });
  const parked = await store.parkedEvents({
    projection: projection.name,
    version: projection.version,
  });
  const aggregates = new Map<string, { aggregateType: string; aggregateId: string }>();
  for (const row of parked) {
    if (
      options.aggregate !== undefined &&
      (row.aggregateType !== options.aggregate.aggregateType ||
        row.aggregateId !== options.aggregate.aggregateId)
    )
      continue;
    aggregates.set(`${row.aggregateType}\u0000${row.aggregateId}`, {
      aggregateType: row.aggregateType,
      aggregateId: row.aggregateId,
    });
  }
  const outcomes: ReplayOutcome[] = [];
  for (const { aggregateType, aggregateId } of aggregates.values()) {
    outcomes.push(await applier.replayParked(aggregateType, aggregateId));
  }
  return outcomes;
}
