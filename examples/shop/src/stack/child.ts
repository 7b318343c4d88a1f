import type { ChildProcess } from 'node:child_process';
import { startJsonLineChild } from '@tributary/testing';

/** One JSON line a service process printed. */
export interface ServiceLine {
  readonly pid: number;
  readonly at: number;
  readonly event: 'started' | 'committed' | 'stopped' | 'failed' | 'clock';
  readonly error?: string;
}

/** A running service process and what it printed. */
export interface ServiceProcess {
  readonly process: ChildProcess;
  readonly lines: ServiceLine[];
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once it printed `started`; rejects when it exits first or after `timeoutMs`. */
  started(timeoutMs?: number): Promise<void>;
  /** Whether it is still running. */
  alive(): boolean;
}

/**
 * Starts `service-process.ts` as a child (through tsx, on the sources) with an IPC channel
 * for clock moves.
 */
export function startServiceProcess(env: Record<string, string>): ServiceProcess {
  const child = startJsonLineChild<ServiceLine>(
    new URL('./service-process.ts', import.meta.url),
    env,
    {
      ipc: true,
    },
  );
  // A killed child closes its channel; a late send must not crash the parent.
  child.process.on('error', (error) => child.stderr.push(`process error: ${error.message}`));
  const alive = (): boolean => child.process.exitCode === null && child.process.signalCode === null;
  return {
    ...child,
    alive,
    async started(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!child.lines.some((line) => line.event === 'started')) {
        if (!alive())
          throw new Error(
            `service process exited before starting: ${child.stderr.join('').slice(-2_000)}`,
          );
        if (Date.now() > deadline)
          throw new Error(`service process not started after ${timeoutMs} ms`);
        await sleep(50);
      }
    },
  };
}

/** Sleeps. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Polls `check` until it is true; throws naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
