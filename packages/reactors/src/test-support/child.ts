import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One line a reactor child printed. */
export interface ChildLine {
  readonly pid: number;
  readonly at: number;
  readonly event: 'started' | 'committed' | 'stopped' | 'failed';
  readonly applied?: number;
  readonly error?: string;
}

/** A running child process and what it printed. */
export interface Child {
  readonly process: ChildProcess;
  readonly lines: ChildLine[];
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a TypeScript module of this folder as a child process (through tsx, on the sources). */
export function startChild(script: string, env: Record<string, string>): Child {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', path], {
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
  return { process: child, lines, stderr, exited };
}

/** Sleeps. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
