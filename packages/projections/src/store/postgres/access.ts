/**
 * PostgreSQL refusing the projection runtime at start (wrong password, no `pg_hba.conf`
 * entry, a server that admits the role over TLS only, a failed TLS handshake) fails the same
 * way on every restart: a typed error saying what to change, never the connection URL.
 */
import { isTributaryError } from '@tributary/core';
import { ProjectionError } from '../../errors.js';

const TLS_FAILURE =
  /self[- ]signed certificate|unable to (get|verify)|certificate has expired|ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match|does not support SSL connections|wrong version number/i;

/**
 * The {@link ProjectionError} for a PostgreSQL access or TLS failure (not retriable);
 * `undefined` for anything else.
 */
export function projectionDatabaseFailure(error: unknown): ProjectionError | undefined {
  if (typeof error !== 'object' || error === null || isTributaryError(error)) return undefined;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  // Only `hostssl` lines match this client: "no pg_hba.conf entry for host …, no encryption".
  if (code === '28000' && /no encryption/.test(message)) {
    return new ProjectionError(
      'PROJECTION_DATABASE_TLS_REQUIRED',
      `PostgreSQL accepts the projection runtime only over TLS, and DATABASE_URL connects without it (SQLSTATE 28000: ${message}). ` +
        'Add sslmode=verify-full and sslrootcert=<the CA file> to DATABASE_URL (sslmode=require at least)',
      { retriable: false, cause: error, details: { sqlState: code } },
    );
  }
  if (code === '28P01' || code === '28000') {
    return new ProjectionError(
      'PROJECTION_DATABASE_ACCESS_DENIED',
      `PostgreSQL refused the projection runtime (SQLSTATE ${code}: ${message}). Check the role's password in ` +
        'DATABASE_URL and that pg_hba.conf admits it (hostssl for TLS)',
      { retriable: false, cause: error, details: { sqlState: code } },
    );
  }
  if (TLS_FAILURE.test(message)) {
    return new ProjectionError(
      'PROJECTION_DATABASE_TLS_FAILED',
      `The TLS handshake with PostgreSQL failed (${message}). Check sslmode and that sslrootcert in DATABASE_URL ` +
        'is the CA that signed the server certificate, and that the server has ssl = on',
      { retriable: false, cause: error },
    );
  }
  return undefined;
}
