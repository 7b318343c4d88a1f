import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';

/** Options of {@link createPgliteKnex}. */
export interface PgliteKnexOptions {
  /**
   * Reuse a snapshot of a freshly initialised database directory, cached under the OS temp
   * directory per PGlite version. `initdb` is what makes PGlite slow to start (seconds); a
   * restored snapshot starts several times faster. Default `true`.
   */
  readonly cacheInitialDataDir?: boolean;
}

/**
 * Where PGlite's type parsing differs from node-postgres (what the real stack and production
 * use), parse as node-postgres does, so a projection spec that passes in memory passes on
 * PostgreSQL: `int8` (bigint, bigserial, `count(*)`) arrives as a string — PGlite would
 * return a number, or a BigInt beyond 2^53; `bytea` arrives as a Buffer.
 */
const NODE_POSTGRES_PARSERS = {
  20: (value: string): string => value,
  // bytea: a Buffer, as node-postgres returns (PGlite returns a plain Uint8Array).
  17: (value: string): Buffer => Buffer.from(value.slice(2), 'hex'),
};

/** A knex on an embedded PGlite database, and the database itself. */
export interface PgliteKnex {
  readonly knex: Knex;
  readonly pglite: PGlite;
  /** Destroys knex and closes PGlite. */
  close(): Promise<void>;
}

const pgliteVersion = (): string => {
  try {
    const require = createRequire(import.meta.url);
    return (require('@electric-sql/pglite/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

async function initialDataDir(): Promise<Blob | undefined> {
  const file = join(tmpdir(), 'tributary-pglite', `initdb-${pgliteVersion()}.tar`);
  try {
    return new Blob([await readFile(file)]);
  } catch {
    // Not cached yet: initialise once and keep a snapshot for the next start.
  }
  const fresh = await PGlite.create();
  try {
    const dump = await fresh.dumpDataDir('none');
    const bytes = new Uint8Array(await dump.arrayBuffer());
    await mkdir(join(tmpdir(), 'tributary-pglite'), { recursive: true });
    // Written under a unique name then renamed, so a concurrent reader never sees half a file.
    const partial = `${file}.${process.pid}.${Date.now()}`;
    await writeFile(partial, bytes);
    await rename(partial, file);
    return new Blob([bytes]);
  } finally {
    await fresh.close();
  }
}

/**
 * A knex instance on an in-process PostgreSQL (PGlite): real SQL, transactions, row locks
 * and views with no server. It has ONE connection, so every statement of a batch must use
 * the batch transaction (which projection handlers do). Start one per test file and share
 * it: even from a cached snapshot, starting costs about a second.
 */
export async function createPgliteKnex(options: PgliteKnexOptions = {}): Promise<PgliteKnex> {
  const loadDataDir = (options.cacheInitialDataDir ?? true) ? await initialDataDir() : undefined;
  const pglite = await PGlite.create({
    ...(loadDataDir === undefined ? {} : { loadDataDir }),
    parsers: NODE_POSTGRES_PARSERS,
  });
  const knex = knexFactory({
    client: ClientPgLite,
    dialect: 'postgres',
    connection: () => ({ pglite }) as unknown as Knex.StaticConnectionConfig,
  });
  return {
    knex,
    pglite,
    async close() {
      // knex-pglite closes PGlite when knex destroys its only connection.
      await knex.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
