/**
 * PostgreSQL refusing the capturer (wrong password, no `pg_hba.conf` entry, a role without
 * REPLICATION or without its grants) or a failed TLS handshake is a misconfiguration: the
 * same connection fails the same way on every restart, so the capturer halts with a typed
 * error instead of restarting forever. So does a database without the outbox (migrations not
 * run, or the wrong database). The message never contains the connection URL.
 */
import { isTributaryError } from '@tributary/core';
import { CaptureError } from '../errors.js';

/** SQLSTATEs of refused access: invalid_password, invalid_authorization_specification, insufficient_privilege. */
const ACCESS_DENIED = new Set(['28P01', '28000', '42501']);

/** SQLSTATEs of a missing schema or table: invalid_schema_name, undefined_table. */
const OUTBOX_MISSING = new Set(['3F000', '42P01']);

const TLS_FAILURE =
  /self[- ]signed certificate|unable to (get|verify)|certificate has expired|ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match|does not support SSL connections|wrong version number/i;

/**
 * The non-retriable {@link CaptureError} for a PostgreSQL access or TLS failure; `undefined`
 * for anything else (which the capturer retries).
 */
export function postgresAccessFailure(error: unknown): CaptureError | undefined {
  // Tributary errors (Kafka's among them) already say whether to retry.
  if (typeof error !== 'object' || error === null || isTributaryError(error)) return undefined;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : '';
  // pg_hba.conf has only `hostssl` lines for this client: PostgreSQL says so as
  // "no pg_hba.conf entry for host …, no encryption" (SQLSTATE 28000).
  if (code === '28000' && /no encryption/.test(message)) {
    return new CaptureError(
      'CAPTURE_DATABASE_TLS_REQUIRED',
      `PostgreSQL accepts the capturer only over TLS, and DATABASE_URL connects without it (SQLSTATE 28000: ${message}). ` +
        'Add sslmode=verify-full and sslrootcert=<the CA file> to DATABASE_URL (sslmode=require at least)',
      { cause: error, details: { sqlState: code } },
    );
  }
  // pg_hba.conf admits the role by client certificate (`cert`, or clientcert=verify-full)
  // and the URL gives none, or one the server's ssl_ca_file did not sign.
  if (code === '28000' && /certificate/i.test(message)) {
    return new CaptureError(
      'CAPTURE_DATABASE_ACCESS_DENIED',
      `PostgreSQL admits the capture role by client certificate only (SQLSTATE 28000: ${message}). ` +
        'Add sslcert=<certificate file>&sslkey=<key file> to DATABASE_URL: a certificate whose CN is the role name, ' +
        "signed by a CA in the server's ssl_ca_file",
      { cause: error, details: { sqlState: code } },
    );
  }
  if (typeof code === 'string' && ACCESS_DENIED.has(code)) {
    return new CaptureError(
      'CAPTURE_DATABASE_ACCESS_DENIED',
      `PostgreSQL refused the capturer (SQLSTATE ${code}: ${message}). Check the role's password in DATABASE_URL, ` +
        'that pg_hba.conf admits it (hostssl for TLS), and that it has the grants `tributary grants --sql` prints',
      { cause: error, details: { sqlState: code } },
    );
  }
  // The outbox is created by the service's migrations; until they ran, every restart fails
  // the same way (the capturer touches no other table).
  if (typeof code === 'string' && OUTBOX_MISSING.has(code)) {
    return new CaptureError(
      'CAPTURE_OUTBOX_MISSING',
      `The outbox table is not in this database (SQLSTATE ${code}: ${message}). Run the outbox migrations first ` +
        '(`tributary migrate`, or migrateOutbox in the service), or point DATABASE_URL and TRIBUTARY_SCHEMA / ' +
        'TRIBUTARY_EVENTS_TABLE at the outbox',
      { cause: error, details: { sqlState: code } },
    );
  }
  if (TLS_FAILURE.test(message)) {
    return new CaptureError(
      'CAPTURE_DATABASE_TLS_FAILED',
      `The TLS handshake with PostgreSQL failed (${message}). Check sslmode and that sslrootcert in DATABASE_URL ` +
        'is the CA that signed the server certificate, and that the server has ssl = on',
      { cause: error },
    );
  }
  return undefined;
}
