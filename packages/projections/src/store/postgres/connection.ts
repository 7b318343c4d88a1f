/**
 * knex settings of the projection runtime's PostgreSQL connections, bounded on the client
 * side. A half-open connection (the network black-holes it: no reset, no answer) never
 * errors by itself, and the server-side timeouts of the batch transaction
 * (`idle_in_transaction_session_timeout`, `lock_timeout`) free the server but cannot answer
 * the client: without a bound here, a query sent into it waits forever and the partition
 * stalls for good. So every query has a read timeout, and a connection whose query timed
 * out is destroyed — node-postgres would otherwise keep it, with the timed-out query still
 * active, and queue every later query behind it — so the pool never hands it out again and
 * the batch is retried on a fresh connection from its checkpoint, as after any connection
 * error.
 */
import type { Knex } from 'knex';

/** Default client-side bound of one query of the projection runtime. */
export const DEFAULT_PROJECTION_QUERY_TIMEOUT_MS = 60_000;

/** How long opening a connection may take before it fails (a black-holed connect). */
export const PROJECTION_CONNECT_TIMEOUT_MS = 15_000;

/** Options of {@link postgresProjectionKnexConfig}. */
export interface PostgresProjectionConnectionOptions {
  readonly databaseUrl: string;
  /** Most connections in the pool. */
  readonly poolSize: number;
  /**
   * A query without an answer for this long fails and its connection is destroyed. It must
   * exceed the slowest legitimate query of a batch (handlers included). Default 60,000 ms.
   */
  readonly queryTimeoutMs?: number;
}

/** node-postgres's message for a query that outlived `query_timeout`. */
const QUERY_READ_TIMEOUT = 'Query read timeout';

/** The parts of a node-postgres client this touches (knex hands it over untyped). */
interface RawPgClient {
  query: (...args: unknown[]) => unknown;
  __knex__disposed?: unknown;
  readonly connection?: { readonly stream?: { destroy(): void } };
}

type QueryCallback = (error: unknown, result: unknown) => void;

/**
 * Makes the client destroy itself when a query times out: knex then sees it as disposed
 * (it never returns to the pool) and every query still queued on it fails at once.
 */
function discardOnQueryTimeout(client: RawPgClient): void {
  const query = client.query.bind(client);
  client.query = (...args: unknown[]): unknown => {
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = ((error, result) => {
        if (error instanceof Error && error.message === QUERY_READ_TIMEOUT) {
          client.__knex__disposed = error;
          client.connection?.stream?.destroy();
        }
        (callback as QueryCallback)(error, result);
      }) satisfies QueryCallback;
    }
    return query(...args);
  };
}

/**
 * The knex configuration of the projection runtime's database: node-postgres with a
 * client-side query timeout that discards the connection, a connect timeout and TCP
 * keepalives.
 *
 * @throws RangeError when `queryTimeoutMs` or `poolSize` is not a positive integer.
 */
export function postgresProjectionKnexConfig(
  options: PostgresProjectionConnectionOptions,
): Knex.Config {
  const queryTimeoutMs = options.queryTimeoutMs ?? DEFAULT_PROJECTION_QUERY_TIMEOUT_MS;
  if (!Number.isSafeInteger(queryTimeoutMs) || queryTimeoutMs < 1) {
    throw new RangeError(`queryTimeoutMs must be a positive integer, not ${queryTimeoutMs}`);
  }
  if (!Number.isSafeInteger(options.poolSize) || options.poolSize < 1) {
    throw new RangeError(`poolSize must be a positive integer, not ${options.poolSize}`);
  }
  return {
    client: 'pg',
    connection: {
      connectionString: options.databaseUrl,
      query_timeout: queryTimeoutMs,
      connectionTimeoutMillis: PROJECTION_CONNECT_TIMEOUT_MS,
      keepAlive: true,
    },
    pool: {
      min: 0,
      max: options.poolSize,
      afterCreate: (
        connection: RawPgClient,
        done: (error: Error | null, connection: unknown) => void,
      ) => {
        discardOnQueryTimeout(connection);
        done(null, connection);
      },
    },
  };
}
