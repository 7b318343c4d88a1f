import { describe, expect, it } from 'vitest';
import { isCaptureError } from './errors.js';
import { verifyCheckpointSource, verifySlotPosition } from './identity.js';
import type { CaptureCheckpoint } from './sink.js';
import type { SourceIdentification } from './source.js';

const source: SourceIdentification = {
  identity: { system: '7301', database: 'app', slot: 'tributary_default' },
  head: 0x5_0000_0000n,
};
const origin = { capturer: 'default', location: 'tributary.capture.checkpoints' };

const checkpoint = (
  identity: CaptureCheckpoint['identity'],
  commitLsn = 0x1_0000_0000n,
): CaptureCheckpoint => ({ commitLsn, identity, partitions: new Map(), confirmedLsn: undefined });

const failure = (run: () => void): unknown => {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('checking a checkpoint against the source', () => {
  it('accepts no checkpoint, its own checkpoint, and an old one without identity', () => {
    expect(() => verifyCheckpointSource(undefined, source, origin)).not.toThrow();
    expect(() => verifyCheckpointSource(checkpoint(source.identity), source, origin)).not.toThrow();
    expect(() =>
      verifyCheckpointSource(checkpoint({ slot: 'tributary_default' }), source, origin),
    ).not.toThrow();
  });

  it('halts on a checkpoint of another PostgreSQL cluster or database, naming both', () => {
    for (const identity of [
      { ...source.identity, system: '9999' },
      { ...source.identity, database: 'other' },
    ]) {
      const error = failure(() => verifyCheckpointSource(checkpoint(identity), source, origin));
      expect(isCaptureError(error, 'CAPTURE_CHECKPOINT_FOREIGN')).toBe(true);
      expect((error as { retriable: boolean }).retriable).toBe(false);
      expect((error as Error).message).toContain('same capturer name');
      expect((error as Error).message).toContain(identity.system);
    }
  });

  it('halts when the checkpoint was written for another slot (also for old checkpoints)', () => {
    const error = failure(() =>
      verifyCheckpointSource(checkpoint({ slot: 'tributary_old' }), source, origin),
    );
    expect(isCaptureError(error, 'CAPTURE_CHECKPOINT_SLOT_CHANGED')).toBe(true);
    expect((error as Error).message).toContain('tributary_old');
  });

  it('halts when the checkpoint is beyond the end of the WAL: a database restored from a backup', () => {
    const error = failure(() =>
      verifyCheckpointSource(checkpoint(source.identity, 0x6_0000_0000n), source, origin),
    );
    expect(isCaptureError(error, 'CAPTURE_CHECKPOINT_AHEAD')).toBe(true);
    expect((error as Error).message).toContain('6/0');
  });
});

describe('checking the slot position against the checkpoint', () => {
  const recorded = (confirmedLsn: bigint | undefined): CaptureCheckpoint => ({
    ...checkpoint(source.identity),
    confirmedLsn,
  });

  it('accepts a slot at or behind the recorded position (a crash before the confirmation) and old checkpoints', () => {
    expect(() => verifySlotPosition(recorded(0x200n), 0x200n, 's', origin)).not.toThrow();
    expect(() => verifySlotPosition(recorded(0x200n), 0x100n, 's', origin)).not.toThrow();
    expect(() => verifySlotPosition(recorded(undefined), 0x900n, 's', origin)).not.toThrow();
    expect(() => verifySlotPosition(undefined, 0x900n, 's', origin)).not.toThrow();
  });

  it('halts when the slot is beyond every recorded position: recreated by hand or advanced by another', () => {
    const error = failure(() =>
      verifySlotPosition(recorded(0x200n), 0x300n, 'tributary_x', origin),
    );
    expect(isCaptureError(error, 'CAPTURE_SLOT_RECREATED')).toBe(true);
    expect((error as Error).message).toContain('tributary_x');
    expect((error as Error).message).toContain('0/300');
  });
});
