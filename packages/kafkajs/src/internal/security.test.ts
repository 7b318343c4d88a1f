import { describe, expect, it } from 'vitest';
import { kafkajsSecurity } from './security.js';

describe('kafkajsSecurity', () => {
  it('is plaintext without options, and TLS with public CAs for ssl: true', () => {
    expect(kafkajsSecurity({})).toEqual({ ssl: false, sasl: undefined });
    expect(kafkajsSecurity({ ssl: true })).toEqual({ ssl: true, sasl: undefined });
  });

  it('maps CA, client certificate, server name and SCRAM', () => {
    expect(
      kafkajsSecurity({
        tls: { ca: 'CA', cert: 'CERT', key: 'KEY', serverName: 'broker.example' },
        sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
      }),
    ).toEqual({
      ssl: { ca: 'CA', cert: 'CERT', key: 'KEY', servername: 'broker.example' },
      sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
    });
  });

  it('calls the OAUTHBEARER callback for each authentication', async () => {
    let calls = 0;
    const { sasl } = kafkajsSecurity({
      tls: true,
      sasl: { mechanism: 'oauthbearer', token: () => Promise.resolve({ value: `t${++calls}` }) },
    });
    if (sasl?.mechanism !== 'oauthbearer') throw new Error('expected oauthbearer');
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 't1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 't2' });
  });

  it('refuses a key without a certificate with a typed error', () => {
    expect(() => kafkajsSecurity({ tls: { key: 'KEY' } })).toThrow(
      expect.objectContaining({ code: 'KAFKA_SECURITY_CONFIG_INVALID' }),
    );
  });
});
