import { describe, expect, it } from 'vitest';
import { startJsonLineChild } from './json-line-child.js';

const fixture = new URL('./json-line-child.fixture.ts', import.meta.url);
type Line = { pid: number; at: number; event: string; name?: string; error?: string };

describe('JSON-line child processes', () => {
  it('collects the lines of a child that started, then closes, says stopped and exits 0 on SIGTERM', async () => {
    const child = startJsonLineChild<Line>(fixture, { NAME: 'one' });
    const deadline = Date.now() + 60_000;
    while (!child.lines.some((line) => line.event === 'started') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    child.process.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.lines.map((line) => line.event)).toEqual(['started', 'closed', 'stopped']);
    expect(child.lines[1]).toMatchObject({ name: 'one', pid: child.process.pid });
  }, 90_000);

  it('reports a failed runtime with exit 1, and a missing setting by name', async () => {
    const failing = startJsonLineChild<Line>(fixture, { NAME: 'two', FAIL: '1' });
    expect(await failing.exited).toEqual({ code: 1, signal: null });
    expect(failing.lines.at(-1)).toMatchObject({ event: 'failed', error: 'Error: boom' });
    const unset = startJsonLineChild<Line>(fixture, { NAME: '' });
    expect((await unset.exited).code).not.toBe(0);
    expect(unset.stderr.join('')).toContain('NAME is not set');
  }, 90_000);
});
