import { CaptureError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';

/** The value of a checkpoint record, keyed by capturer name on the compacted checkpoint topic. */
export interface CheckpointValue {
  /** Commit LSN of the last source transaction committed to Kafka, as `X/Y`. */
  readonly commitLsn: string;
  /** The replication slot it refers to, for operators. */
  readonly slot: string;
}

/** Encodes a checkpoint record value. */
export function encodeCheckpoint(commitLsn: bigint, slot: string): string {
  const value: CheckpointValue = { commitLsn: formatLsn(commitLsn), slot };
  return JSON.stringify(value);
}

/**
 * Decodes a checkpoint record value.
 *
 * @throws CaptureError `CAPTURE_CHECKPOINT_INVALID`: a checkpoint we cannot read must halt
 * the capturer; guessing would republish or skip events.
 */
export function decodeCheckpoint(value: string): bigint {
  try {
    const parsed = JSON.parse(value) as Partial<CheckpointValue> | null;
    if (typeof parsed?.commitLsn !== 'string') throw new Error('no commitLsn');
    return parseLsn(parsed.commitLsn);
  } catch (error) {
    throw new CaptureError(
      'CAPTURE_CHECKPOINT_INVALID',
      `Checkpoint record ${JSON.stringify(value.slice(0, 200))} is not a valid checkpoint`,
      { cause: error },
    );
  }
}
