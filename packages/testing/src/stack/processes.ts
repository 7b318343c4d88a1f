import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { StackError } from './errors.js';

/**
 * A server process the launcher started. `startTime` (clock ticks since boot, from
 * `/proc/<pid>/stat`) guards against pid reuse: `down` never signals a pid whose start
 * time differs from the one recorded, so a stale state file cannot kill a stranger.
 */
export interface ManagedProcess {
  readonly pid: number;
  readonly startTime: string | undefined;
}

/** A free TCP port on 127.0.0.1, found by binding port 0 and releasing it. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

interface ProcStat {
  readonly state: string;
  readonly processGroup: number;
  readonly startTime: string;
}

function readProcStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [state, , processGroup] = fields;
    const startTime = fields[19];
    if (state === undefined || processGroup === undefined || startTime === undefined)
      return undefined;
    return { state, processGroup: Number(processGroup), startTime };
  } catch {
    return undefined;
  }
}

/** Describes the process `pid` for the state file. */
export function describeProcess(pid: number): ManagedProcess {
  return { pid, startTime: readProcStat(pid)?.startTime };
}

/**
 * Whether the recorded process still runs. A zombie counts as exited, and so does a
 * different process that reuses the pid.
 */
export function isProcessAlive(process: ManagedProcess): boolean {
  const stat = readProcStat(process.pid);
  if (stat === undefined) return false;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return process.startTime === undefined || stat.startTime === process.startTime;
}

/**
 * Sends `name` to a launcher-started server (to its process group when it leads one).
 * Does nothing if the process is gone.
 */
export function signalProcess(process: ManagedProcess, name: NodeJS.Signals): void {
  const stat = readProcStat(process.pid);
  // Servers are started as process-group leaders (detached spawn, or pg_ctl's setsid), so
  // signalling the group also reaches helpers they forked (PostgreSQL backends).
  const target =
    stat !== undefined && stat.processGroup === process.pid ? -process.pid : process.pid;
  try {
    globalThis.process.kill(target, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Stops a process the launcher started: `firstSignal` (SIGTERM by default; PostgreSQL
 * wants SIGINT for a fast shutdown), then SIGKILL after `timeoutMs`, and waits for it to
 * be gone. Does nothing if the process already exited or the pid now belongs to another
 * process.
 */
export async function stopProcess(
  process: ManagedProcess,
  timeoutMs: number,
  firstSignal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!isProcessAlive(process)) return;
  signalProcess(process, firstSignal);
  if (await waitUntilExited(process, timeoutMs)) return;
  signalProcess(process, 'SIGKILL');
  if (await waitUntilExited(process, 5_000)) return;
  throw new StackError('STACK_STOP_FAILED', `process ${process.pid} did not exit after SIGKILL`);
}

/** Waits until `process` exited; false if it still runs after `timeoutMs`. */
export async function waitUntilExited(
  process: ManagedProcess,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(process)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/** Who a spawned process runs as; only used when the launcher runs as root. */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Options of {@link spawnServer}. */
export interface SpawnServerOptions {
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly runAs?: RunAs | undefined;
}

/**
 * Starts a long-running server detached in its own process group with output to a log
 * file, so it outlives the CLI that started it and `down` can stop it by pid.
 */
export function spawnServer(options: SpawnServerOptions): ManagedProcess {
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', log, log],
      ...(options.runAs === undefined ? {} : { uid: options.runAs.uid, gid: options.runAs.gid }),
    });
    if (child.pid === undefined) {
      throw new StackError('STACK_START_FAILED', `could not spawn ${options.command}`);
    }
    child.on('error', () => {
      // Reported through the readiness check (the process is gone); an unhandled
      // 'error' event would crash the launcher instead.
    });
    child.unref();
    return describeProcess(child.pid);
  } finally {
    closeSync(log);
  }
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly runAs?: RunAs | undefined;
  readonly timeoutMs: number;
  /** If set, output goes to this file instead of being collected. */
  readonly logFile?: string;
  /** Error code when the command fails. Default: `STACK_START_FAILED`. */
  readonly errorCode?: 'STACK_START_FAILED' | 'STACK_DOWNLOAD_FAILED';
}

/** Runs a short command to completion; rejects with its output tail if it fails. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions,
): Promise<string> {
  const log = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  try {
    return await new Promise<string>((resolveRun, reject) => {
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: log === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', log, log],
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        ...(options.runAs === undefined ? {} : { uid: options.runAs.uid, gid: options.runAs.gid }),
      });
      let output = '';
      const collect = (chunk: Buffer): void => {
        // Keep the tail only: Maven and the JVM can be chatty.
        output = (output + chunk.toString('utf8')).slice(-8_000);
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.on('error', (error) =>
        reject(
          new StackError(
            (error as NodeJS.ErrnoException).code === 'ENOENT'
              ? 'STACK_PREREQUISITE_MISSING'
              : (options.errorCode ?? 'STACK_START_FAILED'),
            `${command}: ${error.message}`,
            false,
            { cause: error },
          ),
        ),
      );
      child.on('close', (code, signalName) => {
        if (code === 0) {
          resolveRun(output);
          return;
        }
        const where = options.logFile === undefined ? `\n${output}` : ` (see ${options.logFile})`;
        reject(
          new StackError(
            options.errorCode ?? 'STACK_START_FAILED',
            `${command} ${args.join(' ')} failed with ${signalName ?? `exit code ${String(code)}`}${where}`,
          ),
        );
      });
    });
  } finally {
    if (log !== undefined) closeSync(log);
  }
}

/** Options of {@link waitUntilReady}. */
export interface WaitUntilReadyOptions {
  /** Names the server in errors. */
  readonly what: string;
  readonly timeoutMs: number;
  /** Fail fast when the server process died instead of waiting for the timeout. */
  readonly process?: ManagedProcess;
  readonly logFile?: string;
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it resolves. Fails early if the server process exited, and names
 * the last probe error and the log file otherwise.
 */
export async function waitUntilReady<T>(
  probe: () => Promise<T>,
  options: WaitUntilReadyOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      lastError = error;
    }
    const logHint = options.logFile === undefined ? '' : `; log: ${options.logFile}`;
    if (options.process !== undefined && !isProcessAlive(options.process)) {
      const tail = options.logFile === undefined ? '' : await logTail(options.logFile);
      throw new StackError(
        'STACK_START_FAILED',
        `${options.what} exited before it became ready${logHint}${tail}`,
        false,
        { cause: lastError },
      );
    }
    if (Date.now() > deadline) {
      // The log's last lines say why (still starting, stuck, bind error) where the log
      // file itself is gone: a test run removes its stack's directory when it fails.
      const tail = options.logFile === undefined ? '' : await logTail(options.logFile);
      throw new StackError(
        'STACK_START_FAILED',
        `${options.what} not ready after ${options.timeoutMs} ms: ${String(lastError)}${logHint}${tail}` +
          '; on a slow or loaded machine raise TRIBUTARY_STACK_START_TIMEOUT_MS',
        true,
        { cause: lastError },
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}

async function logTail(file: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return `\n--- last lines of ${file} ---\n${text.split('\n').slice(-25).join('\n')}`;
  } catch {
    return '';
  }
}

/**
 * Runs `action` while holding an exclusive lock file. A lock left by a process that no
 * longer runs is taken over, so a crashed launcher cannot wedge the next one.
 */
export async function withLockFile<T>(
  file: string,
  timeoutMs: number,
  action: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number(await readFile(file, 'utf8').catch(() => ''));
    if (
      Number.isInteger(owner) &&
      owner > 0 &&
      !isProcessAlive({ pid: owner, startTime: undefined })
    ) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new StackError(
        'STACK_LOCK_TIMEOUT',
        `${file} is held by process ${owner} for more than ${timeoutMs} ms`,
        true,
      );
    }
    await sleep(200);
  }
  try {
    return await action();
  } finally {
    await rm(file, { force: true });
  }
}
