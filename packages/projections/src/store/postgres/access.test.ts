import { describe, expect, it } from 'vitest';
import { projectionDatabaseFailure } from './access.js';

const pgError = (code: string, message: string): Error =>
  Object.assign(new Error(message), { code });

describe('projectionDatabaseFailure', () => {
  it('says to turn TLS on when the server admits the role over TLS only', () => {
    const error = projectionDatabaseFailure(
      pgError(
        '28000',
        'no pg_hba.conf entry for host "127.0.0.1", user "p", database "d", no encryption',
      ),
    );
    expect(error?.code).toBe('PROJECTION_DATABASE_TLS_REQUIRED');
    expect(error?.retriable).toBe(false);
    expect(error?.message).toMatch(/sslmode=verify-full/);
  });

  it('types a refused password and a failed handshake, and leaves the rest alone', () => {
    expect(
      projectionDatabaseFailure(pgError('28P01', 'password authentication failed'))?.code,
    ).toBe('PROJECTION_DATABASE_ACCESS_DENIED');
    expect(
      projectionDatabaseFailure(new Error('self-signed certificate in certificate chain'))?.code,
    ).toBe('PROJECTION_DATABASE_TLS_FAILED');
    expect(projectionDatabaseFailure(new Error('connect ECONNREFUSED'))).toBeUndefined();
  });
});
