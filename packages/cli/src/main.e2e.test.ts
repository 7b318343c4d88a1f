import { useIntegrationEnv } from '@tributary/testing';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { main } from './main.js';

const env = await useIntegrationEnv({ label: 'cli' });

function capture(): {
  lines: string[];
  errors: string[];
  output: { out: (l: string) => void; err: (l: string) => void };
} {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    output: { out: (line) => lines.push(line), err: (line) => errors.push(line) },
  };
}

describe('tributary migrate', () => {
  it('creates the outbox tables, then reports that it is up to date', async () => {
    const first = capture();
    expect(await main(['migrate', '--database-url', env.databaseUrl], first.output)).toBe(0);
    expect(first.lines).toEqual([
      'tributary migrate: applied 0001_create_events, 0002_create_snapshots, 0003_create_commands',
    ]);
    const second = capture();
    expect(await main(['migrate', '--database-url', env.databaseUrl], second.output)).toBe(0);
    expect(second.lines).toEqual(['tributary migrate: already up to date']);
    const client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from tributary.events`,
    );
    await client.end();
    expect(rows[0]?.n).toBe(0);
  });

  it('rejects a bad schema name with a clear error and exit code 1', async () => {
    const run = capture();
    expect(
      await main(
        ['migrate', '--database-url', env.databaseUrl, '--schema', 'Robert"; drop'],
        run.output,
      ),
    ).toBe(1);
    expect(run.errors[0]).toMatch(/^tributary migrate: Invalid schema .* \[INVALID_IDENTIFIER\]$/);
  });

  it('explains a missing database URL with exit code 2', async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const run = capture();
      expect(await main(['migrate'], run.output)).toBe(2);
      expect(run.errors[0]).toBe(
        'tributary migrate: no database. Pass --database-url or set DATABASE_URL.',
      );
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });

  it('rejects an unknown command with usage and exit code 2', async () => {
    const run = capture();
    expect(await main(['frobnicate'], run.output)).toBe(2);
    expect(run.errors[0]).toContain('unknown command "frobnicate"');
  });
});
