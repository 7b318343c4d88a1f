import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lostItsPort } from './kafka.js';
import { describeProcess } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'tributary-kafka-ports-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BIND_FAILURE = [
  '[2026-12-02 05:28:41,101] ERROR [ControllerServer id=1] Fatal error during controller startup.',
  'org.apache.kafka.common.KafkaException: Socket server failed to bind to 127.0.0.1:38807: Address already in use.',
  'Caused by: java.net.BindException: Address already in use',
].join('\n');

/** A process that has exited, as the launcher records it. */
async function exitedProcess() {
  const child = spawn('sh', ['-c', 'sleep 0.2']);
  const managed = describeProcess(child.pid ?? 0);
  await new Promise((resolve) => child.once('exit', resolve));
  return managed;
}

describe('lostItsPort', () => {
  it('is true for an exited node whose log shows a bind failure', async () => {
    const log = join(dir, 'bind.log');
    writeFileSync(log, `starting\n${BIND_FAILURE}\n`);
    expect(await lostItsPort(await exitedProcess(), log)).toBe(true);
  });

  it('is false for an exited node that failed otherwise, or without a log', async () => {
    const log = join(dir, 'other.log');
    writeFileSync(log, 'ERROR Exiting Kafka due to fatal exception: invalid cluster id\n');
    const process = await exitedProcess();
    expect(await lostItsPort(process, log)).toBe(false);
    expect(await lostItsPort(process, join(dir, 'missing.log'))).toBe(false);
  });

  it('is false while the node still runs, whatever its log says', async () => {
    const log = join(dir, 'alive.log');
    writeFileSync(log, BIND_FAILURE);
    const child = spawn('sh', ['-c', 'sleep 30']);
    try {
      expect(await lostItsPort(describeProcess(child.pid ?? 0), log)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
