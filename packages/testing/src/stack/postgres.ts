import { existsSync, readdirSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { PostgresConfig } from './config.js';
import { StackError } from './errors.js';
import type { ManagedProcess, RunAs } from './processes.js';
import { describeProcess, findFreePort, runCommand, waitUntilReady } from './processes.js';
import type { ServiceStartContext, StartedService } from './service.js';

/** Finds the directory with `initdb` and `pg_ctl` (see {@link PostgresConfig.binDir}). */
export function findPostgresBinDir(config: PostgresConfig): string {
  if (config.binDir !== undefined) return config.binDir;
  const root = '/usr/lib/postgresql';
  if (existsSync(join(root, '15', 'bin', 'initdb'))) return join(root, '15', 'bin');
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new StackError(
    'STACK_PREREQUISITE_MISSING',
    'PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/ci-prereqs.sh or set TRIBUTARY_PG_BIN',
  );
}

/** The OS user PostgreSQL runs as when the launcher runs as root (initdb refuses root). */
export async function lookupRunAs(user: string): Promise<RunAs | undefined> {
  // initdb refuses to run as root; as root, run PostgreSQL as the dedicated OS user.
  if (process.getuid?.() !== 0) return undefined;
  const options = { timeoutMs: 5_000 };
  const uid = Number((await runCommand('id', ['-u', user], options)).trim());
  const gid = Number((await runCommand('id', ['-g', user], options)).trim());
  const passwd = (await readFile('/etc/passwd', 'utf8').catch(() => ''))
    .split('\n')
    .find((line) => line.startsWith(`${user}:`));
  return { uid, gid, home: passwd?.split(':')[5] ?? '/tmp' };
}

/** Builds the connection URL of `database` on a stack server. */
export function postgresUrl(config: PostgresConfig, port: number, database: string): string {
  const user = encodeURIComponent(config.user);
  const password = encodeURIComponent(config.password);
  return `postgres://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

/** Runs one query on a short-lived connection; the readiness and health probe. */
export async function queryOnce<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * initdb in a fresh data dir, configure logical decoding, start with `pg_ctl -w`, create
 * the stack's database.
 */
export async function startPostgres(
  context: ServiceStartContext,
): Promise<StartedService<{ readonly databaseUrl: string }>> {
  const { config, runDir } = context;
  const settings = config.postgres;
  const binDir = findPostgresBinDir(settings);
  const runAs = await lookupRunAs(settings.osUserWhenRoot);
  const dataDir = join(runDir, 'postgres');
  const logFile = join(runDir, 'logs', 'postgres.log');
  const passwordFile = join(runDir, 'postgres.pw');
  const port = await findFreePort();

  await mkdir(dataDir, { mode: 0o700 });
  await writeFile(logFile, '');
  await writeFile(passwordFile, settings.password, { mode: 0o600 });
  if (runAs !== undefined) {
    for (const path of [dataDir, logFile, passwordFile]) await chown(path, runAs.uid, runAs.gid);
  }
  const env = postgresEnv(runAs);

  const timeoutMs = config.startTimeoutMs;
  context.log(`postgres: initdb ${dataDir}`);
  await runCommand(
    join(binDir, 'initdb'),
    [
      '--pgdata',
      dataDir,
      // The bootstrap superuser is the stack's login role, so it has REPLICATION and can
      // create per-test databases, publications and slots.
      '--username',
      settings.user,
      `--pwfile=${passwordFile}`,
      '--auth-host=scram-sha-256',
      '--auth-local=peer',
      '--encoding=UTF8',
      '--locale=C',
      // Throwaway data dir: skipping initdb's own fsync saves seconds and risks nothing.
      '--no-sync',
      '--no-instructions',
    ],
    { env, runAs, timeoutMs, logFile, cwd: runDir },
  );
  await rm(passwordFile, { force: true });

  await appendFile(
    join(dataDir, 'postgresql.conf'),
    [
      '',
      '# Added by the Tributary stack launcher',
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      // No unix socket: the server is reachable over loopback TCP only, and parallel stacks
      // cannot collide on a socket path.
      "unix_socket_directories = ''",
      'wal_level = logical',
      `max_replication_slots = ${settings.maxReplicationSlots}`,
      `max_wal_senders = ${settings.maxReplicationSlots}`,
      `max_connections = ${settings.maxConnections}`,
      `fsync = ${settings.fsync ? 'on' : 'off'}`,
      "log_line_prefix = '%m [%p] %q%u@%d '",
      '',
    ].join('\n'),
  );

  context.log(`postgres: pg_ctl start on 127.0.0.1:${port}`);
  const managed = await pgCtlStart({ binDir, dataDir, logFile, env, runAs, timeoutMs, runDir });
  context.track(managed, 'SIGINT');

  const adminUrl = postgresUrl(settings, port, 'postgres');
  await waitUntilReady(() => queryOnce(adminUrl, 'select 1'), {
    what: 'PostgreSQL',
    timeoutMs,
    process: managed,
    logFile,
  });
  await queryOnce(adminUrl, `create database "${settings.database.replaceAll('"', '""')}"`);
  const version = (await queryOnce<{ server_version: string }>(adminUrl, 'show server_version'))[0]
    ?.server_version;
  return {
    connection: { databaseUrl: postgresUrl(settings, port, settings.database) },
    state: {
      process: managed,
      logFile,
      dataDir,
      stopSignal: 'SIGINT',
      ports: [port],
      version: version ?? 'unknown',
    },
  };
}

/** Environment of initdb and pg_ctl: C locale, and the server user's home when run as root. */
export const postgresEnv = (runAs: RunAs | undefined): NodeJS.ProcessEnv => ({
  ...process.env,
  LC_ALL: 'C',
  ...(runAs === undefined ? {} : { HOME: runAs.home }),
});

/** Where and how {@link pgCtlStart} starts a server. */
export interface PgCtlStartOptions {
  readonly binDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly runAs: RunAs | undefined;
  readonly timeoutMs: number;
  readonly runDir: string;
}

/**
 * `pg_ctl start --wait` on an existing data dir (a fresh one or one a crash left behind,
 * which PostgreSQL recovers first); returns the postmaster.
 */
export async function pgCtlStart(options: PgCtlStartOptions): Promise<ManagedProcess> {
  const { binDir, dataDir, logFile, env, runAs, timeoutMs, runDir } = options;
  await runCommand(
    join(binDir, 'pg_ctl'),
    [
      'start',
      '--pgdata',
      dataDir,
      '--log',
      logFile,
      '--wait',
      '--timeout',
      String(Math.ceil(timeoutMs / 1000)),
      '--silent',
    ],
    { env, runAs, timeoutMs: timeoutMs + 5_000, cwd: runDir },
  );
  // pg_ctl leaves the postmaster running in its own session; its pid is line 1 of postmaster.pid.
  const pidLine = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
  return describeProcess(Number(pidLine));
}

/** Health probe: a SQL round trip that also proves `wal_level` is still logical. */
export async function checkPostgres(databaseUrl: string): Promise<string> {
  const rows = await queryOnce<{ wal_level: string }>(databaseUrl, 'show wal_level');
  const walLevel = rows[0]?.wal_level;
  if (walLevel !== 'logical') throw new Error(`wal_level is ${String(walLevel)}, expected logical`);
  return 'SQL ok, wal_level=logical';
}
