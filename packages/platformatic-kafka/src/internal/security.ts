import type { ConnectionOptions } from 'node:tls';
import {
  KafkaSecurityError,
  kafkaSecurityProblems,
  type KafkaSecurityOptions,
} from '@tributary/core';
import type { SASLOptions } from '@platformatic/kafka';

/** The library's TLS and SASL base options for the port's security options. */
export interface PlatformaticSecurity {
  readonly tls?: ConnectionOptions;
  readonly tlsServerName?: string;
  readonly sasl?: SASLOptions;
}

const MECHANISMS = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const;

/**
 * Maps the security options (`ssl: true` is the older spelling of `tls: true`) onto
 * @platformatic/kafka's base options.
 *
 * @throws KafkaSecurityError `KAFKA_SECURITY_CONFIG_INVALID` for unusable options
 */
export function platformaticSecurity(
  options: KafkaSecurityOptions & { readonly ssl?: boolean },
): PlatformaticSecurity {
  const problems = kafkaSecurityProblems(options);
  if (problems.length > 0) {
    throw new KafkaSecurityError('KAFKA_SECURITY_CONFIG_INVALID', problems.join('; '));
  }
  const tls = options.tls ?? options.ssl ?? false;
  const result: { -readonly [K in keyof PlatformaticSecurity]: PlatformaticSecurity[K] } = {};
  if (tls !== false) {
    const settings = typeof tls === 'object' ? tls : {};
    result.tls = {
      ...(settings.ca === undefined ? {} : { ca: settings.ca }),
      ...(settings.cert === undefined ? {} : { cert: settings.cert }),
      ...(settings.key === undefined ? {} : { key: settings.key }),
    };
    // The library sets SNI (and so the verified name) only when told to.
    if (settings.serverName !== undefined) result.tlsServerName = settings.serverName;
  }
  const sasl = options.sasl;
  if (sasl?.mechanism === 'oauthbearer') {
    const token = sasl.token;
    result.sasl = { mechanism: 'OAUTHBEARER', token: async () => (await token()).value };
  } else if (sasl !== undefined) {
    result.sasl = {
      mechanism: MECHANISMS[sasl.mechanism],
      username: sasl.username,
      password: sasl.password,
    };
  }
  return result;
}
