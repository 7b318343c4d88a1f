import type { KafkaHiddenEntries, Logger } from '@tributary/core';
import type { ProjectionApplier } from './projection-applier.js';

/**
 * The `onHiddenEntries` listener of a projection's consumer: moves the partition's
 * checkpoint past fetches that held only transaction markers or aborted records (see
 * {@link ProjectionApplier.coverHidden}), so a partition whose log ends in them reaches its
 * end offset. One cover at a time per partition: the client reports such fetches without
 * waiting, and each cover takes the checkpoint lock.
 */
export function hiddenEntriesCoverer(options: {
  readonly applier: Pick<ProjectionApplier, 'coverHidden'>;
  readonly logger: Logger;
  readonly projection: string;
  /** False once the runtime stops or the version was retired. */
  readonly active: () => boolean;
  /** Offsets (`topic/partition` → offset) a partition's checkpoint must not pass. */
  readonly limits?: ReadonlyMap<string, number>;
}): (range: KafkaHiddenEntries) => void {
  const { applier, logger, projection } = options;
  const covering = new Map<string, Promise<void>>();
  return (range) => {
    if (!options.active()) return;
    const key = `${range.topic}/${range.partition}`;
    const limit = options.limits?.get(key);
    const lastOffset =
      limit === undefined
        ? Number(range.lastOffset)
        : Math.min(Number(range.lastOffset), limit - 1);
    if (lastOffset < Number(range.firstOffset)) return;
    const previous = covering.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        const moved = await applier.coverHidden(range, Number(range.firstOffset), lastOffset);
        if (moved !== undefined)
          logger.debug('checkpoint moved past transaction markers', {
            projection,
            topic: range.topic,
            partition: range.partition,
            nextOffset: moved,
          });
      } catch (error) {
        // Harmless: the next batch of the partition covers them, and a retired version
        // stops at its next batch.
        logger.debug('could not move the checkpoint past transaction markers', {
          projection,
          error,
        });
      }
    });
    covering.set(key, next);
  };
}
