/**
 * Child processes of the projection benchmarks: the capturer (`../capture/capture-child.ts`,
 * configured through the environment like `tributary capture`), the load process
 * (`load.ts`) and projection processes (`projection-child.ts`), each run with tsx from
 * the repository root, and CPU time read from `/proc/<pid>/stat`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root: children resolve workspace packages from there. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A child that prints JSON lines on stdout. */
export interface JsonLineChild {
  readonly process: ChildProcess;
  /** Resolves with the first line of this `type`. */
  next(type: string): Promise<Record<string, unknown>>;
  /** Every line received so far. */
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<number | null>;
}

/** Starts `script` (a path relative to this folder) with `env` added to this process's. */
export function startChild(
  script: string,
  env: Record<string, string>,
  onLine?: (line: Record<string, unknown>) => void,
): JsonLineChild {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  createInterface({ input: child.stdout ?? process.stdin }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      process.stderr.write(`${text}\n`);
      return;
    }
    lines.push(line);
    onLine?.(line);
    for (const waiter of waiters.splice(0))
      if (line['type'] === waiter.type) waiter.resolve(line);
      else waiters.push(waiter);
  });
  return {
    process: child,
    lines,
    exited,
    next(type) {
      const seen = lines.find((line) => line['type'] === type);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ type, resolve });
        void exited.then((code) =>
          reject(new Error(`${script} exited (${String(code)}) before printing "${type}"`)),
        );
      });
    },
  };
}

/** Stops a child with SIGTERM and waits for it to exit. */
export async function stopChild(child: JsonLineChild): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null)
    child.process.kill('SIGTERM');
  await child.exited;
}

const ticksPerSecond = 100; // USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK)

/** User + system CPU milliseconds a process has used so far (`/proc/<pid>/stat`). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; the fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  return ((user + system) * 1_000) / ticksPerSecond;
}
