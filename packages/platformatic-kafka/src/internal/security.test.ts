import { describe, expect, it } from 'vitest';
import { platformaticSecurity } from './security.js';

describe('platformaticSecurity', () => {
  it('is plaintext without options, and TLS with public CAs for ssl: true', () => {
    expect(platformaticSecurity({})).toEqual({});
    expect(platformaticSecurity({ ssl: true })).toEqual({ tls: {} });
  });

  it('maps CA, client certificate, server name and SCRAM', () => {
    expect(
      platformaticSecurity({
        tls: { ca: 'CA', cert: 'CERT', key: 'KEY', serverName: 'broker.example' },
        sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
      }),
    ).toEqual({
      tls: { ca: 'CA', cert: 'CERT', key: 'KEY' },
      tlsServerName: 'broker.example',
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' },
    });
    expect(
      platformaticSecurity({ sasl: { mechanism: 'plain', username: 'u', password: 'p' } }).sasl
        ?.mechanism,
    ).toBe('PLAIN');
  });

  it('passes the OAUTHBEARER callback as the token provider', async () => {
    const { sasl } = platformaticSecurity({
      sasl: { mechanism: 'oauthbearer', token: () => Promise.resolve({ value: 'jwt' }) },
    });
    expect(sasl?.mechanism).toBe('OAUTHBEARER');
    expect(typeof sasl?.token === 'function' ? await sasl.token() : undefined).toBe('jwt');
  });

  it('refuses empty credentials with a typed error', () => {
    expect(() =>
      platformaticSecurity({ sasl: { mechanism: 'plain', username: 'u', password: '' } }),
    ).toThrow(expect.objectContaining({ code: 'KAFKA_SECURITY_CONFIG_INVALID' }));
  });
});
