import { KafkaSecurityError } from '@tributary/core';
import { describe, expect, it } from 'vitest';
import { postgresAccessFailure } from './access.js';

const pgError = (code: string, message: string): Error =>
  Object.assign(new Error(message), { code });

describe('postgresAccessFailure', () => {
  it('halts on a refused password or a missing grant, without the URL', () => {
    const denied = postgresAccessFailure(
      pgError('28P01', 'password authentication failed for user "tributary_capture"'),
    );
    expect(denied?.code).toBe('CAPTURE_DATABASE_ACCESS_DENIED');
    expect(denied?.retriable).toBe(false);
    expect(denied?.message).toMatch(/tributary grants --sql/);
    expect(postgresAccessFailure(pgError('42501', 'permission denied'))?.code).toBe(
      'CAPTURE_DATABASE_ACCESS_DENIED',
    );
  });

  it('halts with what to set when the server admits the role over TLS only', () => {
    const required = postgresAccessFailure(
      pgError(
        '28000',
        'no pg_hba.conf entry for host "127.0.0.1", user "tributary_capture", database "shop", no encryption',
      ),
    );
    expect(required?.code).toBe('CAPTURE_DATABASE_TLS_REQUIRED');
    expect(required?.retriable).toBe(false);
    expect(required?.message).toMatch(/sslmode=verify-full/);
  });

  it('halts with what to add when the server admits the role by client certificate only', () => {
    const denied = postgresAccessFailure(
      pgError('28000', 'connection requires a valid client certificate'),
    );
    expect(denied?.code).toBe('CAPTURE_DATABASE_ACCESS_DENIED');
    expect(denied?.retriable).toBe(false);
    expect(denied?.message).toMatch(/sslcert=<certificate file>&sslkey=<key file>/);
  });

  it('halts with what to run when the outbox schema or table does not exist', () => {
    for (const [code, message] of [
      ['3F000', 'schema "tributary" does not exist'],
      ['42P01', 'relation "tributary.events" does not exist'],
    ] as const) {
      const missing = postgresAccessFailure(pgError(code, message));
      expect(missing?.code).toBe('CAPTURE_OUTBOX_MISSING');
      expect(missing?.retriable).toBe(false);
      expect(missing?.message).toMatch(/tributary migrate/);
      expect(missing?.message).toContain(message);
    }
  });

  it('halts on a TLS handshake failure', () => {
    expect(
      postgresAccessFailure(new Error('self-signed certificate in certificate chain'))?.code,
    ).toBe('CAPTURE_DATABASE_TLS_FAILED');
  });

  it('leaves connection losses and Tributary errors to the restart logic', () => {
    expect(postgresAccessFailure(pgError('57P01', 'terminating connection'))).toBeUndefined();
    expect(postgresAccessFailure(new Error('connect ECONNREFUSED'))).toBeUndefined();
    expect(
      postgresAccessFailure(new KafkaSecurityError('KAFKA_TLS_FAILED', 'unable to verify')),
    ).toBeUndefined();
  });
});
