import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaSecurityFrom } from './kafka-security.js';

const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('kafkaSecurityFrom', () => {
  it('is plaintext without settings', () => {
    expect(kafkaSecurityFrom({}, {})).toEqual({});
  });

  it('reads the TLS files and SCRAM credentials from the environment', () => {
    const ca = file('ca.pem', 'CA PEM');
    expect(
      kafkaSecurityFrom(
        {},
        {
          KAFKA_TLS_CA_FILE: ca,
          KAFKA_TLS_SERVER_NAME: 'localhost',
          KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
          KAFKA_SASL_USERNAME: 'capture',
          KAFKA_SASL_PASSWORD: 'pw',
        },
      ),
    ).toEqual({
      tls: { ca: 'CA PEM', serverName: 'localhost' },
      sasl: { mechanism: 'scram-sha-512', username: 'capture', password: 'pw' },
    });
  });

  it('lets flags win over the environment, and the environment over the file', () => {
    const password = file('password', 'from-file\n');
    const security = kafkaSecurityFrom(
      { 'kafka-sasl-username': 'flag-user' },
      { KAFKA_SASL_USERNAME: 'env-user', KAFKA_SASL_MECHANISM: 'plain' },
      { ssl: true, sasl: { mechanism: 'scram-sha-256', passwordFile: password, username: 'f' } },
    );
    expect(security).toEqual({
      tls: true,
      sasl: { mechanism: 'plain', username: 'flag-user', password: 'from-file' },
    });
  });

  it('names the setting of an unreadable file, a missing mechanism and half a key pair', () => {
    expect(() => kafkaSecurityFrom({}, { KAFKA_TLS_CA_FILE: join(dir, 'absent.pem') })).toThrow(
      /KAFKA_TLS_CA_FILE: cannot read the CA bundle file .*absent\.pem \(ENOENT\)/,
    );
    expect(() => kafkaSecurityFrom({}, { KAFKA_SASL_USERNAME: 'u' })).toThrow(
      /no mechanism: set KAFKA_SASL_MECHANISM/,
    );
    expect(() => kafkaSecurityFrom({ 'kafka-tls-cert-file': file('cert.pem', 'C') }, {})).toThrow(
      /go together/,
    );
    expect(() => kafkaSecurityFrom({}, { KAFKA_SASL_MECHANISM: 'oauthbearer' })).toThrow(
      /only the library API/,
    );
  });

  it('never puts the password into an error message', () => {
    let message = '';
    try {
      kafkaSecurityFrom({}, { KAFKA_SASL_MECHANISM: 'kerberos', KAFKA_SASL_PASSWORD: 'hunter2' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/must be plain/);
    expect(message).not.toContain('hunter2');
  });
});
