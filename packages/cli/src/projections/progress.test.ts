import { describe, expect, it } from 'vitest';
import { formatProgress } from './commands.js';

describe('tributary rebuild', () => {
  it('draws the rebuild progress bar with events/s and ETA', () => {
    expect(
      formatProgress(
        { applied: 500, target: 1_000, eventsPerSecond: 250, etaSeconds: 2, elapsedSeconds: 2 },
        10,
      ),
    ).toBe('[#####-----]  50%  500/1,000  250 ev/s  ETA 2s');
  });
});
