import { CaptureError } from '../errors.js';
import { formatLsn, parseLsn } from '../lsn.js';
import type { CaptureCheckpoint } from '../sink.js';
import type { SourceIdentity } from '../source.js';

/**
 * The value of a checkpoint record, keyed by capturer name on the compacted checkpoint
 * topic. Version 1 (before identities) held `commitLsn` and `slot` only; it is still read,
 * and the next commit writes version 2.
 */
export interface CheckpointValue {
  readonly version?: 2;
  /** Commit LSN of the last source transaction committed to Kafka, as `X/Y`. */
  readonly commitLsn: string;
  /**
   * Present when only a prefix of that source transaction is in Kafka (it is split over
   * several Kafka transactions): the sequence (`tributary.tx_seq`) of its last event there.
   */
  readonly sequence?: number;
  /** The replication slot it refers to. */
  readonly slot: string;
  /** PostgreSQL system identifier (`IDENTIFY_SYSTEM`), as decimal text. */
  readonly systemIdentifier?: string;
  /** The database the slot belongs to. */
  readonly database?: string;
  /** Partition count of every event topic at first use: keys must never move. */
  readonly partitions?: Readonly<Record<string, number>>;
  /** The highest slot position the capturer confirms after this commit, as `X/Y`. */
  readonly confirmedLsn?: string;
}

/** What a checkpoint record carries besides the commit LSN. */
export interface CheckpointContents {
  /** The source it refers to; `undefined` before the first connect (nothing to compare yet). */
  readonly identity: SourceIdentity | undefined;
  /** Name of the slot, used when `identity` is not known. */
  readonly slot: string;
  readonly partitions: ReadonlyMap<string, number>;
  /** The highest source position confirmed after this commit; `undefined` to leave it out. */
  readonly confirmedLsn?: bigint | undefined;
  /** The sequence inside the source transaction at `commitLsn`; `undefined` when it is all in Kafka. */
  readonly sequence?: number | undefined;
}

/** Encodes a checkpoint record value. */
export function encodeCheckpoint(commitLsn: bigint, contents: CheckpointContents): string {
  const { identity } = contents;
  const value: CheckpointValue = {
    version: 2,
    commitLsn: formatLsn(commitLsn),
    ...(contents.sequence === undefined ? {} : { sequence: contents.sequence }),
    slot: identity?.slot ?? contents.slot,
    ...(identity === undefined
      ? {}
      : { systemIdentifier: identity.system, database: identity.database }),
    partitions: Object.fromEntries(contents.partitions),
    ...(contents.confirmedLsn === undefined
      ? {}
      : { confirmedLsn: formatLsn(contents.confirmedLsn) }),
  };
  return JSON.stringify(value);
}

const isPartitionMap = (value: unknown): value is Record<string, number> =>
  typeof value === 'object' &&
  value !== null &&
  Object.values(value).every((count) => Number.isInteger(count) && (count as number) > 0);

/**
 * Decodes a checkpoint record value (version 1 or 2).
 *
 * @throws CaptureError `CAPTURE_CHECKPOINT_INVALID`: a checkpoint we cannot read must halt
 * the capturer; guessing would republish or skip events.
 */
export function decodeCheckpoint(value: string): CaptureCheckpoint {
  try {
    const parsed = JSON.parse(value) as Partial<CheckpointValue> | null;
    if (typeof parsed?.commitLsn !== 'string') throw new Error('no commitLsn');
    const commitLsn = parseLsn(parsed.commitLsn);
    const optionalText = (field: unknown, name: string): string | undefined => {
      if (field === undefined) return undefined;
      if (typeof field !== 'string' || field === '') throw new Error(`bad ${name}`);
      return field;
    };
    const sequence = parsed.sequence as unknown;
    if (sequence !== undefined && !(Number.isSafeInteger(sequence) && (sequence as number) >= 0)) {
      throw new Error('bad sequence');
    }
    if (parsed.partitions !== undefined && !isPartitionMap(parsed.partitions)) {
      throw new Error('bad partitions');
    }
    return {
      commitLsn,
      sequence: sequence as number | undefined,
      identity: {
        system: optionalText(parsed.systemIdentifier, 'systemIdentifier'),
        database: optionalText(parsed.database, 'database'),
        slot: optionalText(parsed.slot, 'slot'),
      },
      partitions: new Map(Object.entries(parsed.partitions ?? {})),
      confirmedLsn:
        parsed.confirmedLsn === undefined ? undefined : parseLsn(String(parsed.confirmedLsn)),
    };
  } catch (error) {
    throw new CaptureError(
      'CAPTURE_CHECKPOINT_INVALID',
      `Checkpoint record ${JSON.stringify(value.slice(0, 200))} is not a valid checkpoint. ` +
        'It was not written by this version of Tributary (or was edited): restore the record from a backup, ' +
        'or start under a new capturer name after reconciling the outbox with Kafka.',
      { cause: error },
    );
  }
}
