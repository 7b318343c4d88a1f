import { describe, expect, it } from 'vitest';
import { crashPointsFromEnvironment, noCrashPoints } from './crash-points.js';
import { isCaptureError } from './errors.js';
import { chunk, transactionalIdFor } from './kafka/kafka-sink.js';
import { classifyReplicationError, SlotBusyError } from './postgres/pgoutput-source.js';
import type { CaptureRecord } from './router.js';

const record = (sizeBytes: number): CaptureRecord => ({
  topic: 't',
  key: 'k',
  value: Buffer.alloc(0),
  headers: {},
  sizeBytes,
  eventId: 'e',
});

describe('produce request chunks', () => {
  it('keep order and stay under the byte limit unless one record alone exceeds it', () => {
    const records = [record(400), record(400), record(400), record(2000), record(10)];
    const chunks = chunk(records, 900);
    expect(chunks.map((part) => part.map((r) => r.sizeBytes))).toEqual([
      [400, 400],
      [400],
      [2000],
      [10],
    ]);
    expect(chunks.flat()).toEqual(records);
    expect(chunk([], 900)).toEqual([[]]);
  });
});

describe('replication errors', () => {
  it('maps a busy slot to standby, a missing one to lost, an invalidated one to invalidated', () => {
    const busy = classifyReplicationError(
      Object.assign(new Error('replication slot "s" is active for PID 42'), { code: '55006' }),
      's',
    );
    expect(busy).toBeInstanceOf(SlotBusyError);
    expect(busy.retriable).toBe(true);
    const lost = classifyReplicationError(
      Object.assign(new Error('replication slot "s" does not exist'), { code: '42704' }),
      's',
    );
    expect(isCaptureError(lost, 'CAPTURE_SLOT_LOST')).toBe(true);
    expect(lost.retriable).toBe(false);
    const invalidated = classifyReplicationError(
      Object.assign(new Error('can no longer get changes from replication slot "s"'), {
        code: '55000',
      }),
      's',
    );
    expect(isCaptureError(invalidated, 'CAPTURE_SLOT_INVALIDATED')).toBe(true);
    expect(invalidated.retriable).toBe(false);
    const other = classifyReplicationError(new Error('Connection terminated unexpectedly'), 's');
    expect(isCaptureError(other, 'CAPTURE_STREAM_ENDED')).toBe(true);
    expect(other.retriable).toBe(true);
  });
});

describe('crash points', () => {
  it('do nothing unless configured', () => {
    expect(crashPointsFromEnvironment({})).toBe(noCrashPoints);
    expect(() =>
      crashPointsFromEnvironment({ TRIBUTARY_CRASH_AT: 'produce:3' })('after-ack'),
    ).not.toThrow();
  });
});

describe('the transactional id', () => {
  it('is stable per capturer name, so a restarted instance fences its predecessor', () => {
    expect(transactionalIdFor('billing')).toBe('tributary.capture.billing');
    expect(transactionalIdFor('billing')).toBe(transactionalIdFor('billing'));
  });
});
