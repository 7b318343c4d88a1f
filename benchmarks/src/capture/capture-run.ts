/**
 * Runs the capturer process of `npm run bench:capture` (capture-child.ts) and measures it
 * from the outside: the committed batches it reports, and its CPU time (utime + stime from
 * /proc/<pid>/stat, every thread included) and peak RSS (VmHWM from /proc/<pid>/status)
 * between two points the benchmark chooses.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./capture-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Clock ticks per second of /proc/<pid>/stat's times. */
const CLOCK_TICKS = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** One committed Kafka transaction, as the capturer process reports it. */
export interface BatchLine {
  readonly type: 'batch';
  readonly at: number;
  readonly events: number;
  readonly latencies: number[];
  readonly eventsPerTransaction: number[];
}

/**
 * CPU time (ms, user + system) of a process (all threads), or with `mainThread` of its main
 * thread only (JavaScript; the others are V8's GC and compiler helpers and libuv), or
 * `undefined` once it is gone.
 */
export function processCpuMs(pid: number, mainThread = false): number | undefined {
  try {
    const stat = readFileSync(
      mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`,
      'utf8',
    );
    // Fields after the command name (which is in parentheses and may hold spaces): state is
    // field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** Peak resident set size (KiB, VmHWM) of a process so far, or 0 once it is gone. */
export function processPeakRssKb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A point of a capture run: when, how many events were published, the CPU spent so far. */
export interface RunMark {
  readonly at: number;
  readonly published: number;
  readonly cpuMs: number;
  /** The main thread's share of `cpuMs`. */
  readonly mainCpuMs: number;
}

/** A running capturer process. */
export interface CaptureRun {
  readonly client: string;
  /** Resolves when the checkpoint is loaded (the drain starts), with the CPU spent so far. */
  readonly ready: Promise<RunMark>;
  readonly batches: BatchLine[];
  published(): number;
  /**
   * Resolves at the batch that brings the published count to `events` or more, with the
   * process's CPU read as that batch's line arrived.
   */
  reached(events: number, timeoutMs: number): Promise<RunMark>;
  /** Peak RSS so far (KiB). */
  peakRssKb(): number;
  stop(): Promise<void>;
}

/**
 * Starts capture-child.ts with `--kafka-client <client>` (how `tributary capture` takes it),
 * optionally writing a CPU profile of its drain to `profileFile`.
 */
export function startCapture(
  client: string,
  env: Record<string, string>,
  profileFile?: string,
): CaptureRun {
  const args = ['--conditions=source', '--import', 'tsx'];
  const child = spawn(process.execPath, [...args, CHILD, '--kafka-client', client], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      ...env,
      ...(profileFile === undefined ? {} : { BENCH_CPU_PROFILE: profileFile }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = child.pid ?? 0;
  const batches: BatchLine[] = [];
  let published = 0;
  let ready: (mark: RunMark) => void = () => undefined;
  const readyMark = new Promise<RunMark>((resolve) => {
    ready = resolve;
  });
  const waiters: { events: number; resolve: (mark: RunMark) => void }[] = [];
  const mark = (at: number): RunMark => ({
    at,
    published,
    cpuMs: processCpuMs(pid) ?? 0,
    mainCpuMs: processCpuMs(pid, true) ?? 0,
  });
  let exitedEarly: (error: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    exitedEarly = reject;
  });
  failed.catch(() => undefined);
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as { type: string; at?: number };
    if (message.type === 'ready') ready(mark(message.at ?? Date.now()));
    if (message.type !== 'batch') return;
    const batch = message as BatchLine;
    batches.push(batch);
    published += batch.events;
    for (const waiter of waiters.filter((w) => published >= w.events)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(mark(batch.at));
    }
  });
  let running = true;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      running = false;
      exitedEarly(new Error(`the ${client} capturer process exited (code ${String(code)})`));
      resolve();
    }),
  );
  return {
    client,
    ready: Promise.race([readyMark, failed]),
    batches,
    published: () => published,
    reached(events, timeoutMs) {
      if (published >= events) return Promise.resolve(mark(batches.at(-1)?.at ?? Date.now()));
      return Promise.race([
        new Promise<RunMark>((resolve, reject) => {
          waiters.push({ events, resolve });
          setTimeout(
            () => reject(new Error(`${client}: capture published ${published} of ${events}`)),
            timeoutMs,
          ).unref();
        }),
        failed,
      ]);
    },
    peakRssKb: () => processPeakRssKb(pid),
    async stop() {
      if (running) child.kill('SIGTERM');
      await exited;
    },
  };
}
