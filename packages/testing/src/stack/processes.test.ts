import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describeProcess,
  findFreePort,
  isProcessAlive,
  stopProcess,
  waitUntilReady,
  withLockFile,
} from './processes.js';

const tempDirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tributary-proc-'));
  tempDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('findFreePort', () => {
  it('returns a loopback port that can be bound', async () => {
    const port = await findFreePort();
    expect(port).toBeGreaterThan(0);
    await new Promise<void>((resolveListen, reject) => {
      const server = createServer().once('error', reject);
      server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolveListen()));
    });
  });
});

describe('stopProcess', () => {
  it('stops a process group with SIGKILL when it ignores the first signal', async () => {
    // A shell that traps SIGTERM and keeps a child: only a group SIGKILL ends both.
    const child = spawn('sh', ['-c', 'trap "" TERM; sleep 30 & wait'], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    const managed = describeProcess(child.pid ?? -1);
    expect(isProcessAlive(managed)).toBe(true);
    await stopProcess(managed, 300);
    expect(isProcessAlive(managed)).toBe(false);
  });

  it('never signals a pid whose start time differs from the recorded one', async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const recorded = { pid: child.pid ?? -1, startTime: '1' };
    expect(isProcessAlive(recorded)).toBe(false);
    await stopProcess(recorded, 100);
    expect(isProcessAlive(describeProcess(recorded.pid))).toBe(true);
    child.kill('SIGKILL');
  });
});

describe('waitUntilReady', () => {
  it('fails fast with the log tail when the server process exits', async () => {
    const dir = tempDir();
    const logFile = join(dir, 'server.log');
    writeFileSync(logFile, 'line 1\nFATAL: port in use\n');
    const child = spawn('true', [], { stdio: 'ignore' });
    const managed = describeProcess(child.pid ?? -1);
    await new Promise((resolveExit) => child.once('exit', resolveExit));
    const started = Date.now();
    await expect(
      waitUntilReady(() => Promise.reject(new Error('refused')), {
        what: 'Server',
        timeoutMs: 10_000,
        process: managed,
        logFile,
      }),
    ).rejects.toThrow(/Server exited before it became ready[\s\S]*FATAL: port in use/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('names the timeout setting and shows the log tail when a live server never answers', async () => {
    const dir = tempDir();
    const logFile = join(dir, 'server.log');
    writeFileSync(logFile, 'starting\nstill compiling the world\n');
    await expect(
      waitUntilReady(() => Promise.reject(new Error('refused')), {
        what: 'Server',
        timeoutMs: 300,
        process: describeProcess(process.pid),
        logFile,
        intervalMs: 50,
      }),
    ).rejects.toThrow(
      /Server not ready after 300 ms: Error: refused[\s\S]*still compiling the world[\s\S]*TRIBUTARY_STACK_START_TIMEOUT_MS/,
    );
  });
});

describe('withLockFile', () => {
  it('serialises holders and takes over a lock whose owner is dead', async () => {
    const file = join(tempDir(), 'stack.lock');
    writeFileSync(file, '999999999'); // no such pid
    const order: string[] = [];
    await Promise.all([
      withLockFile(file, 5_000, async () => {
        order.push('a:start');
        await new Promise((resolveDelay) => setTimeout(resolveDelay, 100));
        order.push('a:end');
      }),
      withLockFile(file, 5_000, () => {
        order.push('b');
        return Promise.resolve();
      }),
    ]);
    expect(order.indexOf('a:end') - order.indexOf('a:start')).toBe(1);
    expect(order).toHaveLength(3);
    expect(() => readFileSync(file)).toThrow();
  });
});
