import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StackService } from './config.js';
import type { ManagedProcess } from './processes.js';

/** How tests and tools reach the three servers. */
export interface StackConnection {
  /** e.g. `postgres://tributary:tributary@127.0.0.1:5432/tributary`; the role has REPLICATION. */
  readonly databaseUrl: string;
  /** e.g. `['127.0.0.1:9092']`. */
  readonly kafkaBrokers: readonly string[];
  /** Base URL for `@kafkajs/confluent-schema-registry`, e.g. `http://127.0.0.1:8081/apis/ccompat/v7`. */
  readonly schemaRegistryUrl: string;
}

/** One running server as recorded in the state file. */
export interface ServiceState {
  readonly process: ManagedProcess;
  /** Where its stdout/stderr (or server log) goes. */
  readonly logFile: string;
  /** Data directory, deleted by `down`. */
  readonly dataDir: string;
  /** Signal that starts a graceful shutdown (PostgreSQL: SIGINT = fast shutdown). */
  readonly stopSignal: NodeJS.Signals;
  /** Loopback port(s) it listens on. */
  readonly ports: readonly number[];
  /** Server version, for the record. */
  readonly version: string;
  /** Seconds from the start of `up` until this server was ready (downloads included). */
  readonly readySeconds: number;
  /**
   * Kafka in multi-broker mode (`--brokers N`): every node; the fields above describe node 1.
   * Absent for a single server.
   */
  readonly nodes?: readonly KafkaNodeState[];
}

/** One node of a multi-broker Kafka cluster (see cluster.ts). */
export interface KafkaNodeState {
  /** `node.id`, 1…N. */
  readonly nodeId: number;
  readonly process: ManagedProcess;
  readonly logFile: string;
  readonly dataDir: string;
  /** Broker port, then controller port. */
  readonly ports: readonly number[];
}

/** What `.tributary/stack.json` (or a test run's state file) contains. */
export interface StackState extends Partial<StackConnection> {
  readonly formatVersion: 1;
  /** `default` for the CLI stack, `test-<pid>` for a stack a test run started for itself. */
  readonly name: string;
  /** Process that started the stack; a test-run stack whose owner died is an orphan. */
  readonly ownerPid: number;
  readonly startedAt: string;
  /** Seconds from `up` to every server ready. */
  readonly startSeconds: number;
  /** Parent of every data dir and log; deleted by `down`. */
  readonly runDir: string;
  readonly services: Partial<Record<StackService, ServiceState>>;
}

/** Directory of state files and locks under the repository root. */
export const stateDir = (repoRoot: string): string => join(repoRoot, '.tributary');

/** State file of the stack called `name`; the CLI's stack is `default` → `stack.json`. */
export const stateFile = (repoRoot: string, name: string): string =>
  join(stateDir(repoRoot), name === 'default' ? 'stack.json' : `stack.${name}.json`);

/** Reads a state file; `undefined` if it does not exist or is not a stack state. */
export async function readState(file: string): Promise<StackState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<StackState>;
    return parsed.formatVersion === 1 ? (parsed as StackState) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a state file atomically (temp file + rename), so readers never see half of it. */
export async function writeState(file: string, state: StackState): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temp, file);
}

/** Removes a state file if present. */
export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** Every state file under `.tributary/` (the CLI's and those of test runs). */
export async function listStateFiles(repoRoot: string): Promise<string[]> {
  try {
    const names = await readdir(stateDir(repoRoot));
    return names
      .filter((name) => /^stack(\..+)?\.json$/.test(name))
      .map((name) => join(stateDir(repoRoot), name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
