import { startJsonLineChild, type JsonLineChild } from '@tributary/testing';

export { counterRecord, produceCounterEvents } from '@tributary/testing';

/** One line a projection child printed. */
export interface ChildLine {
  readonly pid: number;
  /** When the child printed it (epoch ms). */
  readonly at?: number;
  readonly event: 'started' | 'assigned' | 'committed' | 'stopped' | 'failed';
  readonly partition?: number;
  readonly applied?: number;
  readonly skipped?: number;
  readonly partitions?: number[];
}

/** A running projection child process and what it printed. */
export type ProjectionChild = JsonLineChild<ChildLine>;

/** Starts `projection-child.ts` (through tsx, on the workspace sources). */
export function startProjectionChild(env: Record<string, string>): ProjectionChild {
  return startJsonLineChild<ChildLine>(new URL('./projection-child.ts', import.meta.url), env);
}

/** Sleeps. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Whether a process is stopped (SIGSTOP), from /proc (Linux). */
export async function isStopped(pid: number): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return false;
  }
}
