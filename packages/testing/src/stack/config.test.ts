import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRepoRoot, resolveStackConfig } from './config.js';
import { isStackError, StackError } from './errors.js';
import { namespaceLabel } from './integration-env.js';
import { exportLine } from './launcher.js';

describe('resolveStackConfig', () => {
  it('applies the documented defaults', () => {
    const config = resolveStackConfig({ repoRoot: '/repo' }, { HOME: '/home/u' });
    expect(config.services).toEqual(['postgres', 'kafka', 'registry']);
    expect(config.kafka.version).toBe('4.1.2');
    expect(config.kafka.heapOpts).toContain('-Xmx512m');
    expect(config.registry.apicurioVersion).toBe('3.0.9');
    expect(config.postgres).toMatchObject({
      user: 'tributary',
      fsync: true,
      maxReplicationSlots: 20,
    });
    expect(config.cacheDir.endsWith(join('.cache', 'tributary'))).toBe(true);
  });

  it('lets the environment override, and explicit options override the environment', () => {
    const env = {
      TRIBUTARY_CACHE_DIR: '/cache',
      TRIBUTARY_PG_FSYNC: 'off',
      TRIBUTARY_KAFKA_VERSION: '3.9.1',
      TRIBUTARY_STACK_START_TIMEOUT_MS: '5000',
    };
    const fromEnv = resolveStackConfig({ repoRoot: '/repo' }, env);
    expect(fromEnv).toMatchObject({ cacheDir: '/cache', startTimeoutMs: 5000 });
    expect(fromEnv.postgres.fsync).toBe(false);
    expect(fromEnv.kafka.version).toBe('3.9.1');

    const explicit = resolveStackConfig(
      {
        repoRoot: '/repo',
        cacheDir: '/other',
        kafka: { version: '4.0.0' },
        postgres: { fsync: true },
      },
      env,
    );
    expect(explicit.cacheDir).toBe('/other');
    expect(explicit.kafka.version).toBe('4.0.0');
    expect(explicit.kafka.scalaVersion).toBe('2.13');
    expect(explicit.postgres.fsync).toBe(true);
  });

  it('ignores a start timeout that is not a positive integer', () => {
    const config = resolveStackConfig(
      { repoRoot: '/r' },
      { TRIBUTARY_STACK_START_TIMEOUT_MS: 'soon' },
    );
    expect(config.startTimeoutMs).toBe(120_000);
  });
});

describe('findRepoRoot', () => {
  it('walks up to the package.json that declares workspaces', () => {
    const root = mkdtempSync(join(tmpdir(), 'tributary-root-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ workspaces: ['packages/*'] }));
    const pkg = join(root, 'packages', 'a', 'src');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(root, 'packages', 'a', 'package.json'), JSON.stringify({ name: 'a' }));
    try {
      expect(findRepoRoot(pkg)).toBe(root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('exportLine', () => {
  it('prints shell exports for the servers that are known', () => {
    expect(
      exportLine({
        databaseUrl: 'postgres://u:p@127.0.0.1:1/db',
        kafkaBrokers: ['127.0.0.1:2', '127.0.0.1:3'],
      }),
    ).toBe(
      "export DATABASE_URL='postgres://u:p@127.0.0.1:1/db' KAFKA_BROKERS='127.0.0.1:2,127.0.0.1:3'",
    );
  });
});

describe('isStackError', () => {
  it('recognises errors by name and code, also from another copy of the class', () => {
    expect(isStackError(new StackError('STACK_LOCK_TIMEOUT', 'x', true))).toBe(true);
    const foreign = Object.assign(new Error('x'), {
      name: 'StackError',
      code: 'STACK_START_FAILED',
    });
    expect(isStackError(foreign)).toBe(true);
    expect(isStackError(Object.assign(new Error('x'), { code: 'STACK_START_FAILED' }))).toBe(false);
    expect(isStackError('STACK_START_FAILED')).toBe(false);
  });
});

describe('namespaceLabel', () => {
  it('makes a label safe as an unquoted SQL identifier prefix', () => {
    expect(namespaceLabel('Kafka smoke!')).toBe('kafka_smoke');
    expect(namespaceLabel('3 phase')).toBe('t_3_phase');
    expect(namespaceLabel('***')).toBe('it');
    expect(namespaceLabel('a'.repeat(40))).toHaveLength(24);
  });
});

describe('newClusterId', () => {
  it('never starts with a dash, which the storage tool would read as an option', async () => {
    const { newClusterId } = await import('./kafka.js');
    // 0xf8 encodes to "-" as the first base64url character; the next draw does not.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x10)];
    const id = newClusterId(() => draws.shift() ?? Buffer.alloc(16, 0x20));
    expect(id.startsWith('-')).toBe(false);
    expect(id).toHaveLength(22);
    expect(draws).toHaveLength(0);
  });
});
