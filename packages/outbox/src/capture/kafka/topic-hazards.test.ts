import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { isCaptureError } from '../errors.js';
import {
  checkpointTopicHazards,
  checkpointTopicSettings,
  eventTopicHazards,
  eventTopicSettings,
} from './topic-hazards.js';

describe('topic hazards', () => {
  it('finds nothing wrong with the settings the capturer creates', () => {
    expect(eventTopicHazards(eventTopicSettings())).toEqual([]);
    expect(checkpointTopicHazards(checkpointTopicSettings())).toEqual([]);
  });

  it('flags finite retention, size limits and compaction on event topics', () => {
    expect(eventTopicHazards({ 'cleanup.policy': 'delete', 'retention.ms': '604800000' })).toEqual([
      expect.stringMatching(/retention.ms=604800000: events older than 168.0 h are deleted/),
    ]);
    expect(eventTopicHazards({ 'retention.ms': '-1', 'retention.bytes': '1000' })).toEqual([
      expect.stringMatching(/retention.bytes=1000/),
    ]);
    expect(eventTopicHazards({ 'cleanup.policy': 'compact' })).toEqual([
      expect.stringMatching(/only the last event per aggregate survives/),
    ]);
    // Broker defaults (nothing described) mean 7 days of retention.
    expect(eventTopicHazards({})).toHaveLength(1);
  });

  it('flags a checkpoint topic that is not compacted', () => {
    expect(checkpointTopicHazards({ 'cleanup.policy': 'delete' })).toHaveLength(1);
    expect(
      checkpointTopicHazards({ 'cleanup.policy': 'compact,delete', 'retention.ms': '1000' }),
    ).toHaveLength(1);
    expect(checkpointTopicHazards({ 'cleanup.policy': 'compact' })).toEqual([]);
  });
});

describe('checkpoint records', () => {
  it('round-trip the commit LSN, the source identity and the partition counts', () => {
    const value = encodeCheckpoint(0x2_0000_0010n, {
      identity: { system: '7301', database: 'app', slot: 'tributary_default' },
      slot: 'tributary_default',
      partitions: new Map([['events.Account', 3]]),
    });
    expect(JSON.parse(value)).toEqual({
      version: 2,
      commitLsn: '2/10',
      slot: 'tributary_default',
      systemIdentifier: '7301',
      database: 'app',
      partitions: { 'events.Account': 3 },
    });
    const decoded = decodeCheckpoint(value);
    expect(decoded.commitLsn).toBe(0x2_0000_0010n);
    expect(decoded.identity).toEqual({
      system: '7301',
      database: 'app',
      slot: 'tributary_default',
    });
    expect([...decoded.partitions]).toEqual([['events.Account', 3]]);
  });

  it('read a checkpoint written before identities: the slot only, nothing else to compare', () => {
    const decoded = decodeCheckpoint('{"commitLsn":"2/10","slot":"tributary_default"}');
    expect(decoded.commitLsn).toBe(0x2_0000_0010n);
    expect(decoded.identity).toEqual({
      system: undefined,
      database: undefined,
      slot: 'tributary_default',
    });
    expect(decoded.partitions.size).toBe(0);
  });

  it('refuse to guess from an unreadable checkpoint', () => {
    for (const value of [
      '',
      '{}',
      '{"commitLsn": 5}',
      '{"commitLsn": "nope"}',
      'null',
      '{"commitLsn": "1/0", "systemIdentifier": 5}',
      '{"commitLsn": "1/0", "partitions": {"t": 0}}',
    ]) {
      let caught: unknown;
      try {
        decodeCheckpoint(value);
      } catch (error) {
        caught = error;
      }
      expect(isCaptureError(caught, 'CAPTURE_CHECKPOINT_INVALID'), value).toBe(true);
    }
  });
});
