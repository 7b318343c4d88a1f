import { describe, expect, it } from 'vitest';
import { createConsoleLogger, isLogLevel, silentLogger } from './logger.js';

describe('console logger', () => {
  const now = () => new Date('2024-01-01T00:00:00.000Z');

  it('writes text or JSON lines at or above its level', () => {
    const lines: string[] = [];
    const text = createConsoleLogger({ level: 'info', write: (line) => lines.push(line), now });
    text.debug('hidden');
    text.info('capture progress', { events: 5, lsn: '0/1', note: 'a b' });
    const json = createConsoleLogger({ format: 'json', write: (line) => lines.push(line), now });
    json.warn('standby', { pid: 7n });
    expect(lines).toEqual([
      '2024-01-01T00:00:00.000Z INFO  capture progress events=5 lsn=0/1 note="a b"',
      '{"time":"2024-01-01T00:00:00.000Z","level":"warn","message":"standby","pid":"7"}',
    ]);
  });

  it('renders bigints nested in fields, errors by message, and drops undefined fields', () => {
    const lines: string[] = [];
    const logger = createConsoleLogger({ level: 'debug', write: (line) => lines.push(line), now });
    logger.debug('batch committed', {
      offsets: { first: 1n, last: 2n },
      cause: new Error('boom'),
      skipped: undefined,
    });
    expect(lines).toEqual([
      '2024-01-01T00:00:00.000Z DEBUG batch committed offsets={"first":"1","last":"2"} cause="boom"',
    ]);
  });

  it('adds the fields of the moment (the active trace) to entries made while there are any', () => {
    const lines: string[] = [];
    const active: { trace?: { trace_id: string; span_id: string } } = {};
    const logger = createConsoleLogger({
      format: 'json',
      write: (line) => lines.push(line),
      now,
      context: () => active.trace,
    });
    logger.info('outside');
    active.trace = { trace_id: 't1', span_id: 's1' };
    logger.info('inside', { projection: 'p' });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      { time: '2024-01-01T00:00:00.000Z', level: 'info', message: 'outside' },
      {
        time: '2024-01-01T00:00:00.000Z',
        level: 'info',
        message: 'inside',
        trace_id: 't1',
        span_id: 's1',
        projection: 'p',
      },
    ]);
  });
});

describe('log levels', () => {
  it('recognises exactly the four levels', () => {
    expect(['debug', 'info', 'warn', 'error'].every(isLogLevel)).toBe(true);
    expect(isLogLevel('trace')).toBe(false);
    expect(isLogLevel('toString')).toBe(false);
  });

  it('the silent logger accepts every level and writes nothing', () => {
    expect(silentLogger.error('x', { a: 1 })).toBeUndefined();
  });
});
