/**
 * One timed drain of the backlog by one contender: Tributary's capture child process, or a
 * Kafka Connect JVM running Debezium. Both are measured the same way: the clock starts
 * when the process is spawned, CPU time and peak RSS come from /proc/<pid>, and the drain
 * ends when all the events are readable in Kafka.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import type { ConnectDistribution } from './connect-distribution.js';
import { startConnectWorker } from './connect-worker.js';
import type { Properties } from './debezium-config.js';
import { cpuTimeMs, peakRssKb } from './proc-stats.js';

/** What one drain measured. Times are wall-clock ms since the process was spawned. */
export interface RunResult {
  /** When the first records were seen in Kafka. */
  readonly firstSeenMs: number;
  /** How many records were in Kafka then (a whole Kafka transaction for Tributary). */
  readonly firstSeenEvents: number;
  /** When all the events were in Kafka. */
  readonly endMs: number;
  /** CPU time of the process from its start to the end of the drain. */
  readonly cpuTotalMs: number;
  /** CPU time of the process between the first records and the end. */
  readonly cpuDrainMs: number;
  readonly peakRssKb: number;
  /** Records in the target topics at the end (read_committed end offsets). */
  readonly recordsInKafka: number;
}

const CAPTURE_CHILD = fileURLToPath(new URL('../capture/capture-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sum of the read_committed end offsets of `topics` (those that exist so far), or
 * `undefined` when the broker could not answer for one of them right now (a topic created
 * a moment ago may have no leader yet): the caller asks again. For a non-transactional
 * producer that sum is the record count; a transactional producer's commit markers take
 * offsets too, so for Tributary it is only a lower-bound check.
 */
export async function recordsIn(
  admin: Admin,
  topics: readonly string[],
): Promise<number | undefined> {
  try {
    const existing = new Set(await admin.listTopics());
    let total = 0;
    for (const topic of topics) {
      if (!existing.has(topic)) continue;
      for (const partition of await admin.fetchTopicOffsets(topic)) {
        total += Number(partition.offset);
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

/** {@link recordsIn}, asked again (every 500 ms, 20 times at most) until the broker answers. */
async function settledRecordsIn(admin: Admin, topics: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const records = await recordsIn(admin, topics);
    if (records !== undefined) return records;
    await sleep(500);
  }
  throw new Error(`the broker gave no end offsets for ${topics.join(', ')} in 10 s`);
}

/** Options shared by both contenders. */
export interface DrainOptions {
  readonly events: number;
  /** The event topics the drain fills. */
  readonly topics: readonly string[];
  readonly admin: Admin;
  readonly timeoutMs: number;
}

/**
 * Runs bench:capture's capture child (benchmarks/src/capture/capture-child.ts) with `env`
 * until it reports (after each Kafka commit) that all the events are published.
 */
export async function drainWithTributary(
  options: DrainOptions,
  env: Record<string, string>,
): Promise<RunResult> {
  const start = Date.now();
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', CAPTURE_CHILD], {
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the capture child');
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let published = 0;
  let first: { at: number; events: number; cpuMs: number } | undefined;
  let lastAt = 0;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as { type: string; at?: number; events?: number };
    if (message.type !== 'batch') return;
    published += message.events ?? 0;
    lastAt = message.at ?? Date.now();
    first ??= { at: lastAt, events: published, cpuMs: cpuTimeMs(pid) };
  });
  let failure: string | undefined;
  void exited.then((code) => {
    failure = `the capture child exited (code ${String(code)}) before publishing all events`;
  });
  const deadline = start + options.timeoutMs;
  while (published < options.events) {
    if (failure !== undefined) throw new Error(failure);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Tributary published ${published} of ${options.events} events in time`);
    }
    await sleep(10);
  }
  const cpuEnd = cpuTimeMs(pid);
  const peak = peakRssKb(pid);
  child.kill('SIGTERM');
  await exited;
  const begin = first ?? { at: lastAt, events: published, cpuMs: cpuEnd };
  return {
    firstSeenMs: begin.at - start,
    firstSeenEvents: begin.events,
    endMs: lastAt - start,
    cpuTotalMs: cpuEnd,
    cpuDrainMs: cpuEnd - begin.cpuMs,
    peakRssKb: peak,
    recordsInKafka: await settledRecordsIn(options.admin, options.topics),
  };
}

/**
 * Starts a Connect worker running the Debezium connector and polls the target topics' end
 * offsets every `pollMs` until they hold all the events; a failed task, an exited worker
 * or the timeout ends the run with the log's tail.
 */
export async function drainWithDebezium(
  options: DrainOptions & {
    readonly distribution: ConnectDistribution;
    readonly worker: (runDir: string) => Properties;
    readonly connector: Properties;
    readonly pollMs: number;
  },
): Promise<RunResult> {
  const runDir = mkdtempSync(join(tmpdir(), 'tributary-vs-debezium-'));
  const start = Date.now();
  const worker = await startConnectWorker({
    distribution: options.distribution,
    worker: options.worker(runDir),
    connector: options.connector,
    runDir,
  });
  const fail = (reason: string): Error =>
    new Error(`${reason}; log ${worker.logFile}, last lines:\n${worker.logTail(30)}`);
  let succeeded = false;
  try {
    let first: { at: number; events: number; cpuMs: number } | undefined;
    let records = 0;
    let lastStatusCheck = start;
    for (;;) {
      records = (await recordsIn(options.admin, options.topics)) ?? records;
      const now = Date.now();
      if (records > 0) first ??= { at: now, events: records, cpuMs: cpuTimeMs(worker.pid) };
      if (records >= options.events) {
        const cpuEnd = cpuTimeMs(worker.pid);
        const begin = first ?? { at: now, events: records, cpuMs: cpuEnd };
        succeeded = true;
        return {
          firstSeenMs: begin.at - start,
          firstSeenEvents: begin.events,
          endMs: now - start,
          cpuTotalMs: cpuEnd,
          cpuDrainMs: cpuEnd - begin.cpuMs,
          peakRssKb: peakRssKb(worker.pid),
          recordsInKafka: records,
        };
      }
      if (worker.exited()) throw fail('the Kafka Connect worker exited');
      if (now > start + options.timeoutMs) {
        throw fail(`Debezium delivered ${records} of ${options.events} events in time`);
      }
      if (now - lastStatusCheck > 2_000) {
        lastStatusCheck = now;
        const task = await worker.taskState();
        if (task?.state === 'FAILED') {
          throw fail(`the Debezium task failed: ${task.trace?.split('\n')[0] ?? ''}`);
        }
      }
      await sleep(options.pollMs);
    }
  } finally {
    await worker.stop();
    // A failed run keeps its directory: the error message names its log.
    if (succeeded) await rm(runDir, { recursive: true, force: true });
  }
}
