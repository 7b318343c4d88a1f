/**
 * Checks that a checkpoint belongs to the source the capturer reads. A checkpoint applied
 * to another source silently skips events (its LSN is ahead of what the other source has
 * to send) or republishes them (behind): both are worse than halting, so every mismatch
 * halts with what to do.
 */
import { CaptureError } from './errors.js';
import { formatLsn } from './lsn.js';
import type { CaptureCheckpoint } from './sink.js';
import type { SourceIdentification } from './source.js';

/** Where the checkpoint came from, for the messages. */
export interface CheckpointOrigin {
  readonly capturer: string;
  readonly location: string;
}

/**
 * Halts unless `checkpoint` was written for the source described by `source`. Fields a
 * checkpoint of an older version lacks are not compared (they are adopted on the next
 * commit).
 *
 * @throws CaptureError `CAPTURE_CHECKPOINT_FOREIGN` (other PostgreSQL cluster or database),
 * `CAPTURE_CHECKPOINT_SLOT_CHANGED` (other slot), `CAPTURE_CHECKPOINT_AHEAD` (the database
 * is behind the checkpoint: restored from a backup). None is retriable.
 */
export function verifyCheckpointSource(
  checkpoint: CaptureCheckpoint | undefined,
  source: SourceIdentification,
  origin: CheckpointOrigin,
): void {
  if (checkpoint === undefined) return;
  const recorded = checkpoint.identity;
  const actual = source.identity;
  const where = `The Kafka checkpoint of capturer "${origin.capturer}" (topic ${origin.location}, commit LSN ${formatLsn(checkpoint.commitLsn)})`;
  const details = {
    capturer: origin.capturer,
    checkpoint: formatLsn(checkpoint.commitLsn),
    recorded: { ...recorded },
    actual: { ...actual },
  };
  if (
    (recorded.system !== undefined && recorded.system !== actual.system) ||
    (recorded.database !== undefined && recorded.database !== actual.database)
  ) {
    throw new CaptureError(
      'CAPTURE_CHECKPOINT_FOREIGN',
      `${where} was written for PostgreSQL system ${String(recorded.system)} database ${String(recorded.database)}, ` +
        `but this capturer reads system ${actual.system} database ${actual.database}. ` +
        'Either two deployments use the same capturer name on one Kafka cluster (give each its own name, TRIBUTARY_CAPTURE_NAME, ' +
        'or its own checkpoint topic), or the database was replaced by another cluster (a dump restored into a new server): ' +
        'reconcile the outbox with Kafka, then start under a new capturer name. Nothing was published.',
      { details },
    );
  }
  if (recorded.slot !== undefined && recorded.slot !== actual.slot) {
    throw new CaptureError(
      'CAPTURE_CHECKPOINT_SLOT_CHANGED',
      `${where} was written for replication slot ${recorded.slot}, but this capturer is configured with slot ${actual.slot}. ` +
        'Another slot has its own position: events between the two would be lost or published twice. ' +
        `Set the slot back to ${recorded.slot} (TRIBUTARY_SLOT), or reconcile the outbox with Kafka and start under a new capturer name.`,
      { details },
    );
  }
  if (checkpoint.commitLsn > source.head) {
    throw new CaptureError(
      'CAPTURE_CHECKPOINT_AHEAD',
      `${where} is ahead of the end of this database's WAL (${formatLsn(source.head)}): the database was restored from a backup ` +
        '(or rewound) after those events reached Kafka. New transactions would reuse LSNs at or below the checkpoint and be skipped. ' +
        'Reconcile Kafka with the restored outbox (events in Kafka that the database no longer has), then start under a new capturer name.',
      { details: { ...details, head: formatLsn(source.head) } },
    );
  }
}

/**
 * Halts when the slot's confirmed position is beyond every position this capturer recorded
 * as confirmable. The capturer records a position in a committed checkpoint before it
 * confirms it, so a slot ahead of the record was not moved by this capturer: it was
 * dropped and recreated by hand (a new slot starts at the current WAL position) or
 * advanced by someone else, and whatever was committed in between never reached Kafka.
 * Checkpoints of older versions record no position and are not compared.
 *
 * @throws CaptureError `CAPTURE_SLOT_RECREATED` (not retriable).
 */
export function verifySlotPosition(
  checkpoint: CaptureCheckpoint | undefined,
  slotConfirmed: bigint,
  slot: string,
  origin: CheckpointOrigin,
): void {
  const recorded = checkpoint?.confirmedLsn;
  if (recorded === undefined || slotConfirmed <= recorded) return;
  throw new CaptureError(
    'CAPTURE_SLOT_RECREATED',
    `Replication slot ${slot} is confirmed up to ${formatLsn(slotConfirmed)}, beyond ${formatLsn(recorded)}, the furthest position capturer "${origin.capturer}" ever recorded (topic ${origin.location}): ` +
      'the slot was dropped and recreated by hand, or advanced by another consumer, and events committed in between may be missing from Kafka. ' +
      'Capture halted and publishes nothing. Reconcile the outbox with Kafka (events committed after the checkpoint), then start under a new capturer name.',
    {
      details: {
        slot,
        slotConfirmed: formatLsn(slotConfirmed),
        recorded: formatLsn(recorded),
        capturer: origin.capturer,
      },
    },
  );
}
