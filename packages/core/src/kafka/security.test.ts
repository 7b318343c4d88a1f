import { describe, expect, it } from 'vitest';
import {
  isKafkaSecurityError,
  kafkaClientCertificateRejected,
  kafkaSecurityFailure,
  kafkaTlsRequired,
} from './errors.js';
import { kafkaSecurityProblems } from './security.js';

describe('kafkaSecurityProblems', () => {
  it('accepts TLS with a CA only, and SCRAM with credentials', () => {
    expect(
      kafkaSecurityProblems({
        tls: { ca: 'PEM' },
        sasl: { mechanism: 'scram-sha-512', username: 'capture', password: 'secret' },
      }),
    ).toEqual([]);
  });

  it('refuses a client certificate without its key, and empty credentials', () => {
    const problems = kafkaSecurityProblems({
      tls: { cert: 'PEM' },
      sasl: { mechanism: 'plain', username: '', password: '' },
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/certificate needs its private key/);
    expect(problems[1]).toMatch(/needs a user name/);
  });

  it('refuses an unknown mechanism and an OAUTHBEARER without a callback', () => {
    expect(kafkaSecurityProblems({ sasl: { mechanism: 'gssapi' } as never })[0]).toMatch(
      /not one of plain/,
    );
    expect(kafkaSecurityProblems({ sasl: { mechanism: 'oauthbearer' } as never })[0]).toMatch(
      /token callback/,
    );
  });
});

describe('kafkaSecurityFailure', () => {
  it('turns an ACL refusal into a non-retriable authorization error naming the fix', () => {
    const error = kafkaSecurityFailure(
      new Set(['TOPIC_AUTHORIZATION_FAILED']),
      'Not authorized',
      'send',
    );
    expect(isKafkaSecurityError(error)).toBe(true);
    expect(error?.code).toBe('KAFKA_AUTHORIZATION_FAILED');
    expect(error?.retriable).toBe(false);
    expect(error?.message).toMatch(/tributary grants/);
  });

  it('recognises SASL and TLS failures by message', () => {
    expect(
      kafkaSecurityFailure(new Set(), 'SASL SCRAM SHA256 authentication failed', 'connect')?.code,
    ).toBe('KAFKA_AUTHENTICATION_FAILED');
    const tls = kafkaSecurityFailure(
      new Set(),
      'Error: self-signed certificate in certificate chain',
      'connect',
    );
    expect(tls?.code).toBe('KAFKA_TLS_FAILED');
    expect(tls?.message).toMatch(/KAFKA_TLS_CA_FILE/);
  });

  it('recognises a mutual-TLS listener refusing the client certificate, before other TLS failures', () => {
    for (const text of [
      'Connection error: 80:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:rec_layer_s3.c:1601:SSL alert number 42',
      'write EPROTO ... tlsv13 alert certificate required',
    ]) {
      const error = kafkaSecurityFailure(new Set(), text, 'connect');
      expect(error?.code).toBe('KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED');
      expect(error?.retriable).toBe(false);
      expect(error?.message).toMatch(/KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE/);
    }
    expect(kafkaClientCertificateRejected('connect', 'kafka-1:9094').message).toMatch(
      /broker at kafka-1:9094 requires a client certificate/,
    );
  });

  it('leaves other failures alone', () => {
    expect(kafkaSecurityFailure(new Set(['NOT_LEADER_OR_FOLLOWER']), 'ECONNREFUSED', 'x')).toBe(
      undefined,
    );
  });
});

describe('kafkaTlsRequired', () => {
  it('names the broker and the setting that turns TLS on, and is never retried', () => {
    const error = kafkaTlsRequired('connecting the producer', 'kafka-1:9093');
    expect(isKafkaSecurityError(error)).toBe(true);
    expect(error.code).toBe('KAFKA_TLS_REQUIRED');
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/broker at kafka-1:9093 expects TLS/);
    expect(error.message).toMatch(/KAFKA_SSL=true \(--kafka-ssl true\)/);
  });
});
