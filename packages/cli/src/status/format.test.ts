import { describe, expect, it } from 'vitest';
import { formatPipelineStatus } from './format.js';
import type { PipelineStatus } from './pipeline.js';

const status: PipelineStatus = {
  capture: {
    name: 'default',
    capturer: 'streaming',
    checkpointLsn: '0/1A2B3C',
    checkpointTopic: 'tributary.capture.checkpoints',
    slot: {
      name: 'tributary_default',
      exists: true,
      active: true,
      activePid: 4242,
      walStatus: 'reserved',
      confirmedLsn: '0/1A2B40',
      retainedWalBytes: 3 * 1024 * 1024,
      lagBytes: 0,
    },
  },
  topics: [
    {
      topic: 'events.Counter',
      endOffset: 12,
      partitions: [
        { partition: 0, endOffset: 8 },
        { partition: 1, endOffset: 4 },
      ],
    },
  ],
  projections: [
    {
      projection: 'counters',
      version: 1,
      status: 'active',
      lag: 2,
      parkedEvents: 1,
      parkedAggregates: 1,
      partitions: [
        { topic: 'events.Counter', partition: 0, storedOffset: 6, endOffset: 8, lag: 2 },
      ],
    },
  ],
};

describe('formatPipelineStatus', () => {
  it('draws slot, capture, topics and projections in pipeline order', () => {
    const text = formatPipelineStatus(status);
    expect(text.split('\n')).toEqual([
      'capture "default": streaming',
      '  slot tributary_default  active (pid 4242)  wal reserved  confirmed 0/1A2B40  retained 3.0 MiB  lag 0 B',
      '  checkpoint 0/1A2B3C  (tributary.capture.checkpoints)',
      'topics',
      `  ${'events.Counter'.padEnd(40)} end         12  (0:8 1:4)`,
      'projections',
      '  counters v1 (active)  lag 2  parked 1 event(s) in 1 aggregate(s)',
      `    ${'topic/partition'.padEnd(40)}     stored        end      lag`,
      `    ${'events.Counter/0'.padEnd(40)}          6          8        2`,
    ]);
  });

  it('says when the slot does not exist and nothing was captured yet', () => {
    const text = formatPipelineStatus({
      capture: {
        ...status.capture,
        capturer: 'not streaming',
        checkpointLsn: null,
        slot: { ...status.capture.slot, exists: false, active: false, activePid: null },
      },
      topics: [],
      projections: [],
    });
    expect(text).toContain('slot tributary_default  does not exist (capture never ran here)');
    expect(text).toContain('checkpoint none yet');
    expect(text).toContain('  none yet');
    expect(text).toContain('no projections registered');
  });
});
