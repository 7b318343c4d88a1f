import type { PipelineStatus } from './pipeline.js';

const mib = (bytes: number | null): string => {
  if (bytes === null) return '-';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
};

/** The text table of `tributary status`: slot → capture → topics → each projection. */
export function formatPipelineStatus(status: PipelineStatus): string {
  const lines: string[] = [];
  const { capture } = status;
  const { slot } = capture;
  lines.push(`capture "${capture.name}": ${capture.capturer}`);
  lines.push(
    slot.exists
      ? `  slot ${slot.name}  ${slot.active ? `active (pid ${slot.activePid ?? '?'})` : 'inactive'}  wal ${slot.walStatus ?? '-'}  confirmed ${slot.confirmedLsn ?? '-'}  retained ${mib(slot.retainedWalBytes)}  lag ${mib(slot.lagBytes)}`
      : `  slot ${slot.name}  does not exist (capture never ran here)`,
  );
  lines.push(`  checkpoint ${capture.checkpointLsn ?? 'none yet'}  (${capture.checkpointTopic})`);
  lines.push('topics');
  if (status.topics.length === 0) lines.push('  none yet');
  for (const topic of status.topics) {
    lines.push(
      `  ${topic.topic.padEnd(40)} end ${String(topic.endOffset).padStart(10)}  (${topic.partitions.map((p) => `${p.partition}:${p.endOffset}`).join(' ')})`,
    );
  }
  lines.push('projections');
  if (status.projections.length === 0) lines.push('  no projections registered');
  for (const projection of status.projections) {
    lines.push(
      `  ${projection.projection} v${projection.version} (${projection.status})  lag ${projection.lag}  parked ${projection.parkedEvents} event(s) in ${projection.parkedAggregates} aggregate(s)`,
    );
    lines.push(
      `    ${'topic/partition'.padEnd(40)} ${'stored'.padStart(10)} ${'end'.padStart(10)} ${'lag'.padStart(8)}`,
    );
    for (const p of projection.partitions) {
      lines.push(
        `    ${`${p.topic}/${p.partition}`.padEnd(40)} ${String(p.storedOffset ?? '-').padStart(10)} ${String(p.endOffset).padStart(10)} ${String(p.lag).padStart(8)}`,
      );
    }
  }
  return lines.join('\n');
}
