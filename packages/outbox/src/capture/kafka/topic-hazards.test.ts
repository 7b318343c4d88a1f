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
  it('round-trip the commit LSN', () => {
    const value = encodeCheckpoint(0x2_0000_0010n, 'tributary_default');
    expect(JSON.parse(value)).toEqual({ commitLsn: '2/10', slot: 'tributary_default' });
    expect(decodeCheckpoint(value)).toBe(0x2_0000_0010n);
  });

  it('refuse to guess from an unreadable checkpoint', () => {
    for (const value of ['', '{}', '{"commitLsn": 5}', '{"commitLsn": "nope"}', 'null']) {
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
