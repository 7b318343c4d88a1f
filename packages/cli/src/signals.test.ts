import { describe, expect, it } from 'vitest';
import { listenForStopSignals } from './signals.js';

describe('stop signals', () => {
  it('stops once on the first SIGTERM or SIGINT and keeps repeated ones from killing the process', async () => {
    const before = process.listenerCount('SIGTERM');
    const seen: string[] = [];
    const signals = listenForStopSignals((signal) => seen.push(signal));
    // A process-group kill plus a wrapper relaying it: the same signal twice, then Ctrl-C.
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(await signals.received).toBe('SIGTERM');
    expect(seen).toEqual(['SIGTERM']);
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    signals.dispose();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
