import type { Knex } from 'knex';
import type pg from 'pg';

/** The one thing the stores need from a connection: run a parameterized statement. */
export interface SqlExecutor {
  query<R extends Record<string, unknown>>(text: string, params: readonly unknown[]): Promise<R[]>;
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
    return {
      async query<R extends Record<string, unknown>>(text: string, params: readonly unknown[]) {
        const bindings: unknown[] = [];
        // `?` never appears in our statements except as placeholders: we use no jsonb `?` operators.
        const knexText = text.replace(/\$(\d+)/g, (_match, index: string) => {
          bindings.push(params[Number(index) - 1]);
          return '?';
        });
        const result = await connection.raw<pg.QueryResult<R>>(
          knexText,
          bindings as Knex.RawBinding[],
        );
        return result.rows;
      },
    };
  }
  return {
    async query<R extends Record<string, unknown>>(text: string, params: readonly unknown[]) {
      const result = await (connection as pg.Pool).query<R>(text, params as unknown[]);
      return result.rows;
    },
  };
}
