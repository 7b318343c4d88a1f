/**
 * Both halves of the child processes that crash and kill tests start and SIGKILL: the parent
 * starts a TypeScript module through tsx on the workspace sources and collects the JSON lines
 * it prints; the child reads its settings from the environment, prints one JSON line per
 * thing worth knowing, and stops its runtime cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running child process, the JSON lines it printed and everything else it wrote. */
export interface JsonLineChild<Line> {
  readonly process: ChildProcess;
  /** Every stdout line that parsed as JSON, in order. */
  readonly lines: Line[];
  /** stderr, and stdout lines that were not JSON. */
  readonly stderr: string[];
  /** Resolves with the exit code or signal once the child exited and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options of {@link startJsonLineChild}. */
export interface JsonLineChildOptions {
  /** Open an IPC channel (`process.send` / `process.on('message')`). Default false. */
  readonly ipc?: boolean;
}

/**
 * Starts the TypeScript module at `script` (a path or a `file:` URL) as a child process
 * through tsx with the `source` condition, so it runs on the workspace sources without a
 * build. The child inherits this process's environment plus `env`.
 */
export function startJsonLineChild<Line>(
  script: string | URL,
  env: Readonly<Record<string, string>>,
  options: JsonLineChildOptions = {},
): JsonLineChild<Line> {
  const path = script instanceof URL ? fileURLToPath(script) : script;
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', path], {
    env: { ...process.env, ...env },
    stdio: options.ipc === true ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  const stderr: string[] = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      try {
        lines.push(JSON.parse(part) as Line);
      } catch {
        stderr.push(part);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  // 'close', not 'exit': a child's last lines may still be in the pipe when it has exited.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { process: child, lines, stderr, exited };
}

/**
 * A setting the child cannot run without.
 *
 * @throws Error naming the variable when it is unset or empty.
 */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/** Prints `line` as one JSON line on stdout, with this process's pid and the time (`at`, epoch ms). */
export function printJsonLine(line: object): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, at: Date.now(), ...line })}\n`);
}

/** What {@link serveUntilTerminated} runs: a projection or reactor runtime, for instance. */
export interface TerminableRuntime {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Rejects on a fatal error. */
  readonly stopped: Promise<void>;
}

/**
 * Starts `runtime` and prints `{"event":"started"}`. On SIGTERM it stops the runtime, runs
 * `close` (e.g. destroy the knex pool), prints `{"event":"stopped"}` and exits 0; when the
 * runtime fails it prints `{"event":"failed","error":…}` and exits 1. A SIGKILL, the point of
 * these children, leaves no line at all.
 */
export async function serveUntilTerminated(
  runtime: TerminableRuntime,
  close: () => Promise<void> = () => Promise.resolve(),
): Promise<void> {
  process.once('SIGTERM', () => {
    void runtime.stop().then(async () => {
      await close();
      printJsonLine({ event: 'stopped' });
      process.exit(0);
    });
  });
  await runtime.start();
  printJsonLine({ event: 'started' });
  runtime.stopped.catch((error: unknown) => {
    printJsonLine({ event: 'failed', error: String(error) });
    process.exit(1);
  });
}
