/**
 * A Kafka Connect standalone worker running one Debezium connector, as a child JVM started
 * the way `bin/connect-standalone.sh` starts it (same heap and GC flags), logging to a
 * file in its run directory.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConnectDistribution } from './connect-distribution.js';
import { formatProperties, type Properties } from './debezium-config.js';

/**
 * JVM options of `connect-standalone.sh` (heap) and `kafka-run-class.sh` (GC), what a user
 * starting a standalone worker gets.
 */
export const CONNECT_JVM_OPTIONS = [
  '-Xms256M',
  '-Xmx2G',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-Djava.awt.headless=true',
] as const;

/** INFO to stdout (redirected into the run's log file), as Connect's own log4j2 config does. */
const LOG4J2 = `status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
`;

/** A started worker. */
export interface ConnectWorker {
  readonly pid: number;
  /** The worker's log (stdout and stderr). */
  readonly logFile: string;
  /** Whether the JVM has exited. */
  exited(): boolean;
  /**
   * The connector's task state from the REST API (`RUNNING`, `FAILED`…, with the trace of
   * a failed task), or `undefined` while the worker is not answering yet.
   */
  taskState(): Promise<{ readonly state: string; readonly trace?: string } | undefined>;
  /** The last `lines` lines of the log. */
  logTail(lines: number): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the JVM has exited. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Options of {@link startConnectWorker}. */
export interface ConnectWorkerOptions {
  readonly distribution: ConnectDistribution;
  readonly worker: Properties;
  readonly connector: Properties;
  /** Fresh directory for the property files, the log and the offsets file. */
  readonly runDir: string;
}

/** Writes the property files and starts the worker JVM. */
export async function startConnectWorker(options: ConnectWorkerOptions): Promise<ConnectWorker> {
  const { runDir, distribution } = options;
  const workerFile = join(runDir, 'worker.properties');
  const connectorFile = join(runDir, 'connector.properties');
  const log4jFile = join(runDir, 'log4j2.properties');
  const logFile = join(runDir, 'connect.log');
  await writeFile(workerFile, formatProperties(options.worker));
  await writeFile(connectorFile, formatProperties(options.connector));
  await writeFile(log4jFile, LOG4J2);
  const restUrl = (options.worker.get('listeners') ?? '').replace(/\/$/, '');
  const name = options.connector.get('name') ?? '';
  const out = openSync(logFile, 'a');
  const child = spawn(
    'java',
    [
      ...CONNECT_JVM_OPTIONS,
      `-Dlog4j2.configurationFile=${log4jFile}`,
      '-cp',
      distribution.workerClasspath,
      'org.apache.kafka.connect.cli.ConnectStandalone',
      workerFile,
      connectorFile,
    ],
    { cwd: runDir, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  let hasExited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true;
      resolve();
    });
    child.once('error', () => {
      hasExited = true;
      resolve();
    });
  });
  if (child.pid === undefined) {
    await exit;
    throw new Error('could not start java for Kafka Connect (is a JDK 17+ on PATH?)');
  }
  const pid = child.pid;
  return {
    pid,
    logFile,
    exited: () => hasExited,
    async taskState() {
      try {
        const response = await fetch(`${restUrl}/connectors/${encodeURIComponent(name)}/status`);
        if (!response.ok) return undefined;
        const status = (await response.json()) as {
          tasks?: { state: string; trace?: string }[];
        };
        return status.tasks?.[0];
      } catch {
        return undefined;
      }
    },
    logTail(lines) {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '(no log)';
      }
    },
    async stop(timeoutMs = 30_000) {
      if (hasExited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
