import type { Knex } from 'knex';
import type pg from 'pg';

/** The one thing the stores need from a connection: run a parameterized statement. */
export interface SqlExecutor {
  /**
   * Runs `text`. With a `name`, pg prepares the statement once per connection and reuses
   * its plan: the append statement costs about 1 ms to plan, more than it takes to run.
   */
  query<R extends Record<string, unknown>>(
    text: string,
    params: readonly unknown[],
    name?: string,
  ): Promise<R[]>;
  /**
   * Runs `text`, a statement that returns no rows (no `RETURNING`), and resolves to the
   * number of rows it wrote. No result row means no RowDescription for the client to parse:
   * on the append's hot path that is as much CPU as the rest of its protocol work.
   */
  execute(text: string, params: readonly unknown[], name?: string): Promise<number>;
}

/** What a caller may hand us: a pg pool, a pg client (maybe in a transaction), knex or a knex transaction. */
export type SqlConnection = pg.Pool | pg.PoolClient | pg.Client | Knex | Knex.Transaction;

function isKnex(connection: SqlConnection): connection is Knex | Knex.Transaction {
  return typeof (connection as Partial<Knex>).raw === 'function';
}

/**
 * Wraps a pg or knex connection. Statements are written once with `$1…$n` placeholders;
 * for knex they are rewritten to `?` bindings, so a caller's knex transaction runs the very
 * same SQL and domain writes commit together with the events.
 */
export function toExecutor(connection: SqlConnection): SqlExecutor {
  if (isKnex(connection)) {
    const run = async <R extends Record<string, unknown>>(
      text: string,
      params: readonly unknown[],
      name: string | undefined,
    ): Promise<pg.QueryResult<R>> => {
      const bindings: unknown[] = [];
      // `?` never appears in our statements except as placeholders: we use no jsonb `?` operators.
      const knexText = text.replace(/\$(\d+)/g, (_match, index: string) => {
        bindings.push(params[Number(index) - 1]);
        return '?';
      });
      const raw = connection.raw<pg.QueryResult<R>>(knexText, bindings as Knex.RawBinding[]);
      // knex hands `options` to the driver's query config: with a name, node-postgres
      // prepares the statement once per connection, as on the pg path below. Inside a
      // reactor's or a handler's transaction this is the per-command hot path.
      return name === undefined ? raw : raw.options({ name });
    };
    return {
      async query<R extends Record<string, unknown>>(
        text: string,
        params: readonly unknown[],
        name?: string,
      ) {
        return (await run<R>(text, params, name)).rows;
      },
      async execute(text: string, params: readonly unknown[], name?: string) {
        return (await run(text, params, name)).rowCount ?? 0;
      },
    };
  }
  const pool = connection as pg.Pool;
  const configOf = (text: string, params: readonly unknown[], name?: string): pg.QueryConfig =>
    name === undefined
      ? { text, values: params as unknown[] }
      : { name, text, values: params as unknown[] };
  return {
    async query<R extends Record<string, unknown>>(
      text: string,
      params: readonly unknown[],
      name?: string,
    ) {
      return (await pool.query<R>(configOf(text, params, name))).rows;
    },
    async execute(text: string, params: readonly unknown[], name?: string) {
      return (await pool.query(configOf(text, params, name))).rowCount ?? 0;
    },
  };
}
