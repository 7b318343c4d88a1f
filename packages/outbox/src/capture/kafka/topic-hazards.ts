/**
 * Pure checks of topic configurations: does a setting make replay impossible? The capturer
 * creates its topics right, but topics created earlier by hand or by broker defaults may
 * not be, and a projection rebuild replays from the first offset.
 */

/** Topic settings as the broker describes them (`name → value`). */
export type TopicSettings = Readonly<Record<string, string | undefined>>;

/** Settings of event topics created by the capturer: infinite retention, no compaction. */
export function eventTopicSettings(): Record<string, string> {
  return { 'cleanup.policy': 'delete', 'retention.ms': '-1', 'retention.bytes': '-1' };
}

/**
 * Settings of the checkpoint topic: compacted (only the last checkpoint per capturer matters),
 * with segments rolled often so the compacted view stays small and startup reads little.
 */
export function checkpointTopicSettings(): Record<string, string> {
  return {
    'cleanup.policy': 'compact',
    'segment.ms': String(10 * 60 * 1000),
    'min.cleanable.dirty.ratio': '0.1',
  };
}

const policies = (settings: TopicSettings): string[] =>
  (settings['cleanup.policy'] ?? 'delete').split(',').map((policy) => policy.trim());

/** Reasons why an event topic with these settings cannot be replayed from the start. */
export function eventTopicHazards(settings: TopicSettings): string[] {
  const hazards: string[] = [];
  const cleanup = policies(settings);
  if (cleanup.includes('compact')) {
    hazards.push(
      'cleanup.policy includes compact: only the last event per aggregate survives, so projections cannot be rebuilt',
    );
  }
  if (cleanup.includes('delete')) {
    const retentionMs = Number(settings['retention.ms'] ?? '604800000');
    if (retentionMs >= 0) {
      hazards.push(
        `retention.ms=${retentionMs}: events older than ${(retentionMs / 3_600_000).toFixed(1)} h are deleted, so projections cannot be rebuilt (use -1)`,
      );
    }
    const retentionBytes = Number(settings['retention.bytes'] ?? '-1');
    if (retentionBytes >= 0) {
      hazards.push(
        `retention.bytes=${retentionBytes}: partitions are truncated beyond that size (use -1)`,
      );
    }
  }
  return hazards;
}

/** Reasons why a checkpoint topic with these settings may lose the checkpoint. */
export function checkpointTopicHazards(settings: TopicSettings): string[] {
  const cleanup = policies(settings);
  if (cleanup.includes('compact') && !cleanup.includes('delete')) return [];
  const retentionMs = Number(settings['retention.ms'] ?? '604800000');
  if (cleanup.includes('compact') || retentionMs >= 0) {
    return [
      `cleanup.policy=${cleanup.join(',')} with retention.ms=${retentionMs}: the checkpoint can expire; use cleanup.policy=compact`,
    ];
  }
  return [];
}
