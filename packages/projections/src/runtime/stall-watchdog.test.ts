import { describe, expect, it } from 'vitest';
import { StallWatchdog, type PartitionProgress, type StalledPartition } from './stall-watchdog.js';

function harness(timeoutMs = 1_000) {
  let now = 0;
  let progress: PartitionProgress[] = [];
  let failure: Error | undefined;
  const stalls: (readonly StalledPartition[])[] = [];
  const probeFailures: unknown[] = [];
  const watchdog = new StallWatchdog({
    timeoutMs,
    now: () => now,
    probe: () => (failure === undefined ? Promise.resolve(progress) : Promise.reject(failure)),
    onStall: (stalled) => stalls.push(stalled),
    onProbeFailure: (error) => probeFailures.push(error),
  });
  return {
    watchdog,
    stalls,
    probeFailures,
    at: (ms: number) => {
      now = ms;
    },
    set: (next: PartitionProgress[]) => {
      progress = next;
    },
    fail: (error: Error | undefined) => {
      failure = error;
    },
  };
}

const p = (partition: number, nextOffset: number, targetOffset: number): PartitionProgress => ({
  topic: 'events.Order',
  partition,
  nextOffset,
  targetOffset,
});

describe('StallWatchdog', () => {
  it('reports a partition whose checkpoint stays put with records beyond it for the timeout', async () => {
    const h = harness();
    h.set([p(0, 10, 20), p(1, 5, 5)]);
    h.at(0);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(999);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(1_000);
    const stalled = await h.watchdog.check();
    expect(stalled).toEqual([{ ...p(0, 10, 20), stalledForMs: 1_000 }]);
    expect(h.stalls).toEqual([stalled]);
    // Fires once.
    h.at(5_000);
    expect(await h.watchdog.check()).toEqual([]);
    expect(h.stalls).toHaveLength(1);
  });

  it('restarts the clock when the checkpoint moves, even if the partition still lags', async () => {
    const h = harness();
    h.set([p(0, 10, 100)]);
    h.at(0);
    await h.watchdog.check();
    h.at(900);
    h.set([p(0, 40, 100)]);
    await h.watchdog.check();
    h.at(1_800);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(1_900);
    expect(await h.watchdog.check()).toHaveLength(1);
  });

  it('counts nothing while a partition is caught up, and starts counting when records arrive', async () => {
    const h = harness();
    h.set([p(0, 10, 10)]);
    h.at(0);
    await h.watchdog.check();
    // Idle for a long time, then new records: the clock starts now, not at the last commit.
    h.at(60_000);
    h.set([p(0, 10, 12)]);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(60_500);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(61_000);
    expect(await h.watchdog.check()).toHaveLength(1);
  });

  it('keeps the clock of a partition through a rebalance that takes it away for a while', async () => {
    const h = harness();
    h.set([p(0, 10, 20)]);
    h.at(0);
    await h.watchdog.check();
    h.at(500);
    h.set([]);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(1_000);
    h.set([p(0, 10, 20)]);
    expect(await h.watchdog.check()).toEqual([{ ...p(0, 10, 20), stalledForMs: 1_000 }]);
  });

  it('restarts the clock of a partition that another member moved on while it was away', async () => {
    const h = harness();
    h.set([p(0, 10, 20)]);
    h.at(0);
    await h.watchdog.check();
    h.at(500);
    h.set([]);
    await h.watchdog.check();
    h.at(1_000);
    h.set([p(0, 15, 30)]);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(1_999);
    expect(await h.watchdog.check()).toEqual([]);
  });

  it('treats a retry as a sign of life', async () => {
    const h = harness();
    h.set([p(0, 10, 20)]);
    h.at(0);
    await h.watchdog.check();
    h.at(800);
    h.watchdog.touch('events.Order', 0);
    h.at(1_500);
    expect(await h.watchdog.check()).toEqual([]);
    h.at(1_800);
    expect(await h.watchdog.check()).toHaveLength(1);
  });

  it('skips the checks while the probe fails, and reports the failure', async () => {
    const h = harness();
    h.set([p(0, 10, 20)]);
    h.at(0);
    await h.watchdog.check();
    h.fail(new Error('broker unreachable'));
    h.at(2_000);
    expect(await h.watchdog.check()).toEqual([]);
    expect(h.probeFailures).toHaveLength(1);
    expect(h.stalls).toEqual([]);
  });

  it('runs the checks on its own timer until stopped', async () => {
    let probes = 0;
    const watchdog = new StallWatchdog({
      timeoutMs: 1_000,
      intervalMs: 10,
      probe: () => {
        probes += 1;
        return Promise.resolve([]);
      },
      onStall: () => undefined,
    });
    watchdog.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    watchdog.stop();
    const after = probes;
    expect(after).toBeGreaterThan(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(probes).toBe(after);
  });

  it('refuses a timeout that is not a positive integer', () => {
    expect(
      () =>
        new StallWatchdog({ timeoutMs: 0, probe: () => Promise.resolve([]), onStall: () => {} }),
    ).toThrow(/positive integer/);
  });
});
