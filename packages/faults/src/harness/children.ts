/**
 * Capture and the projection runtime as separate processes: the `tributary` command
 * (packages/cli/bin/tributary.mjs), exactly as an operator runs it. A supervisor restarts a
 * process that exits on its own, as systemd or Kubernetes would, and counts the exits: an
 * exit is not a loss, but the matrix reports it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../cli/bin/tributary.mjs', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** One exit of a supervised process. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last log lines before the exit. */
  readonly tail: readonly string[];
}

/** A supervised `tributary` process. */
export interface SupervisedChild {
  readonly label: string;
  /** Exits the supervisor did not ask for. */
  readonly exits: readonly ChildExit[];
  /** Every log line so far (JSON lines), most recent last; capped. */
  readonly lines: readonly string[];
  /** Resolves after the process exits on its own (not on {@link SupervisedChild.stop}). */
  nextExit(): Promise<ChildExit>;
  /** SIGKILL now (the supervisor restarts it unless restarts are off). */
  kill(): void;
  /** Turns restarts after an unrequested exit on or off. */
  setRestart(restart: boolean): void;
  /** SIGTERM, SIGKILL after `graceMs`; no restart. */
  stop(graceMs?: number): Promise<void>;
}

/** Options of {@link superviseChild}. */
export interface SupervisedChildOptions {
  readonly label: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Where its output is appended. */
  readonly logDir: string;
  /** Restart after an unrequested exit. Default: true. */
  readonly restart?: boolean;
  /** Delay before a restart. Default: 1000 ms. */
  readonly restartDelayMs?: number;
}

/** Starts `tributary <args>` and keeps it running until stopped. */
export function superviseChild(options: SupervisedChildOptions): SupervisedChild {
  const lines: string[] = [];
  const exits: ChildExit[] = [];
  const logFile = join(options.logDir, `${options.label}.log`);
  let current: ChildProcess | undefined;
  let stopping = false;
  let restart = options.restart ?? true;
  let waiters: ((exit: ChildExit) => void)[] = [];

  const launch = (): void => {
    const child = spawn(process.execPath, [BIN, ...options.args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_ENV: 'production', ...options.env },
    });
    current = child;
    const collect = (chunk: Buffer): void => {
      const text = chunk.toString();
      appendFileSync(logFile, text);
      lines.push(...text.split('\n').filter((line) => line !== ''));
      if (lines.length > 5_000) lines.splice(0, lines.length - 5_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', (code, signal) => {
      current = undefined;
      if (stopping) return;
      const exit = { code, signal, tail: lines.slice(-15) };
      exits.push(exit);
      appendFileSync(logFile, `--- exited: code ${code}, signal ${signal} ---\n`);
      const notify = waiters;
      waiters = [];
      for (const waiter of notify) waiter(exit);
      if (restart) {
        setTimeout(() => {
          if (!stopping) launch();
        }, options.restartDelayMs ?? 1_000);
      }
    });
  };
  launch();
  // A matrix run that dies must not leave capture or a projection runtime behind.
  process.once('exit', () => current?.kill('SIGKILL'));

  return {
    label: options.label,
    exits,
    lines,
    nextExit: () => new Promise((resolve) => waiters.push(resolve)),
    kill() {
      current?.kill('SIGKILL');
    },
    setRestart(value) {
      restart = value;
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      const child = current;
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
