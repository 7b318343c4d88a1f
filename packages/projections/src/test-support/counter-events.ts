import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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
export interface ProjectionChild {
  readonly process: ChildProcess;
  readonly lines: ChildLine[];
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: string[];
}

const childScript = fileURLToPath(new URL('./projection-child.ts', import.meta.url));

/** Starts `projection-child.ts` (through tsx, on the workspace sources). */
export function startProjectionChild(env: Record<string, string>): ProjectionChild {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', childScript], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ChildLine[] = [];
  const stderr: string[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        lines.push(JSON.parse(part) as ChildLine);
      } catch {
        stderr.push(part);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { process: child, lines, exited, stderr };
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
