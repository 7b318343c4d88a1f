/**
 * Read-your-writes across Kafka: wait until a projection shows a command's effect. The
 * command's consistency token names the aggregate versions it wrote; the projection's
 * store already tracks the last applied version per aggregate (for its ordering guard), so
 * the wait is a read of those rows, repeated until they reach the token or time runs out.
 */
import { decodeConsistencyToken, type ConsistencyPosition } from '@tributary/core';
import { ProjectionError } from './errors.js';
import type { ProjectionStore } from './store/projection-store.js';

/** Options of {@link waitForProjection}. */
export interface WaitForOptions {
  /** Longest wait. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** Pause between two reads of the store. Default 20 ms. */
  readonly pollMs?: number;
}

/** Where one aggregate of a token stands in a projection that has not caught up. */
export interface BehindPosition extends ConsistencyPosition {
  /** Last version the projection applied (0 if it never saw the aggregate). */
  readonly applied: number;
  /** The aggregate is parked: it will not move until its parked events are replayed. */
  readonly parked: boolean;
}

/** The projection did not apply the token's versions within the timeout. */
export class ConsistencyTimeoutError extends ProjectionError {
  constructor(
    readonly projection: string,
    readonly behind: readonly BehindPosition[],
    timeoutMs: number,
  ) {
    const first = behind[0];
    super(
      'PROJECTION_CONSISTENCY_TIMEOUT',
      `Projection "${projection}" did not catch up within ${timeoutMs} ms` +
        (first === undefined
          ? ''
          : `: ${first.aggregateType} ${first.aggregateId} is at version ${first.applied}, the command wrote ${first.version}` +
            (first.parked ? ' (parked: see `tributary parked`)' : '')) +
        '. The read model may still be catching up (check projection lag), or the projection is stopped.',
      { retriable: true, details: { projection, behind, timeoutMs } },
    );
  }
}

/** The token names an aggregate type the projection does not consume: it would never catch up. */
export class ConsistencyNotApplicableError extends ProjectionError {
  constructor(projection: string, aggregateTypes: readonly string[]) {
    super(
      'PROJECTION_CONSISTENCY_NOT_APPLICABLE',
      `Projection "${projection}" does not consume ${aggregateTypes.join(', ')}: waiting for it to show this command would never end. Wait on a projection of those aggregate types.`,
      { details: { projection, aggregateTypes } },
    );
  }
}

/** What {@link waitForProjection} needs to know of the projection. */
export interface WaitForTarget {
  readonly name: string;
  readonly aggregateTypes: readonly string[];
}

/**
 * Resolves when the ACTIVE version of `projection` (the one reads go to) has applied every
 * aggregate version named by `token`; rejects with {@link ConsistencyTimeoutError}
 * otherwise. `beforeRead` lets an in-memory runtime do a round of work between reads.
 *
 * @throws InvalidConsistencyTokenError for a malformed token;
 * ConsistencyNotApplicableError when the projection does not consume an aggregate type of
 * the token.
 */
export async function waitForProjection(
  store: Pick<ProjectionStore, 'aggregateVersions' | 'versions'>,
  projection: WaitForTarget,
  token: string,
  options: WaitForOptions & { readonly beforeRead?: () => Promise<void> } = {},
): Promise<void> {
  const positions = decodeConsistencyToken(token).filter((position) => position.version > 0);
  const foreign = [
    ...new Set(
      positions
        .map((position) => position.aggregateType)
        .filter((type) => !projection.aggregateTypes.includes(type)),
    ),
  ];
  if (foreign.length > 0) throw new ConsistencyNotApplicableError(projection.name, foreign);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await options.beforeRead?.();
    const behind = await behindPositions(store, projection.name, positions);
    if (behind.length === 0) return;
    if (Date.now() >= deadline)
      throw new ConsistencyTimeoutError(projection.name, behind, timeoutMs);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 20));
  }
}

async function behindPositions(
  store: Pick<ProjectionStore, 'aggregateVersions' | 'versions'>,
  projection: string,
  positions: readonly ConsistencyPosition[],
): Promise<BehindPosition[]> {
  if (positions.length === 0) return [];
  const active = (await store.versions(projection)).find((row) => row.status === 'active');
  const stored =
    active === undefined
      ? []
      : await store.aggregateVersions({ name: projection, version: active.version }, positions);
  return positions.flatMap((position) => {
    const found = stored.find(
      (row) =>
        row.aggregateType === position.aggregateType && row.aggregateId === position.aggregateId,
    );
    const applied = found?.lastVersion ?? 0;
    return applied >= position.version
      ? []
      : [{ ...position, applied, parked: found?.parked ?? false }];
  });
}

/**
 * The projection called `name` among those a runtime runs.
 *
 * @throws ProjectionError `PROJECTION_NOT_FOUND` naming the ones it does run.
 */
export function runningProjection<P extends WaitForTarget>(
  projections: readonly P[],
  name: string,
): P {
  const found = projections.find((projection) => projection.name === name);
  if (found === undefined) {
    throw new ProjectionError(
      'PROJECTION_NOT_FOUND',
      `This runtime does not run a projection "${name}" (it runs: ${projections.map((p) => p.name).join(', ')})`,
      { details: { projection: name } },
    );
  }
  return found;
}
