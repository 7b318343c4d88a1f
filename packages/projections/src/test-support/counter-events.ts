import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { envelopeHeaders, uuidV7, type EventEnvelope, type KafkaClient } from '@tributary/core';

/** The record of one counter event, in the capturer's format. */
export function counterRecord(counterId: string, version: number, by = 1) {
  const envelope: EventEnvelope = {
    eventId: uuidV7(),
    aggregateType: 'Counter',
    aggregateId: counterId,
    aggregateVersion: version,
    eventType: 'Incremented',
    schemaVersion: 1,
    payload: { by },
    metadata: {},
    occurredAt: new Date().toISOString(),
  };
  return {
    key: counterId,
    value: JSON.stringify(envelope.payload),
    headers: envelopeHeaders(envelope),
  };
}

/**
 * Produces `versions` events for each of `counters` counters (versions `fromVersion…`),
 * interleaved across counters, in Kafka transactions of `transactionSize` records, as the
 * capturer would. Returns how many were produced.
 */
export async function produceCounterEvents(
  kafka: KafkaClient,
  topic: string,
  options: {
    counters: number;
    versions: number;
    fromVersion?: number;
    transactionSize?: number;
    transactionalId: string;
  },
): Promise<number> {
  const producer = kafka.producer({ transactionalId: options.transactionalId });
  await producer.connect();
  const from = options.fromVersion ?? 1;
  const size = options.transactionSize ?? 200;
  let pending: ReturnType<typeof counterRecord>[] = [];
  let produced = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const transaction = await producer.begin();
    await transaction.send([{ topic, messages: pending }]);
    await transaction.commit();
    produced += pending.length;
    pending = [];
  };
  try {
    for (let version = from; version < from + options.versions; version += 1) {
      for (let counter = 0; counter < options.counters; counter += 1) {
        pending.push(counterRecord(`c${counter}`, version));
        if (pending.length >= size) await flush();
      }
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return produced;
}

/** One line a projection child printed. */
export interface ChildLine {
  readonly pid: number;
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
