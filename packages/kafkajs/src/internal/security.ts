import type { ConnectionOptions } from 'node:tls';
import {
  KafkaSecurityError,
  kafkaSecurityProblems,
  type KafkaSecurityOptions,
  type KafkaTls,
} from '@tributary/core';
import type { SASLOptions } from 'kafkajs';

/** kafkajs's `ssl` and `sasl` options for the port's security options. */
export interface KafkajsSecurity {
  readonly ssl: boolean | ConnectionOptions;
  readonly sasl: SASLOptions | undefined;
}

const tlsOptions = (tls: KafkaTls): ConnectionOptions => ({
  ...(tls.ca === undefined ? {} : { ca: tls.ca }),
  ...(tls.cert === undefined ? {} : { cert: tls.cert }),
  ...(tls.key === undefined ? {} : { key: tls.key }),
  ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
});

/**
 * Maps the security options (`ssl: true` is the older spelling of `tls: true`) onto kafkajs.
 *
 * @throws KafkaSecurityError `KAFKA_SECURITY_CONFIG_INVALID` for unusable options
 */
export function kafkajsSecurity(
  options: KafkaSecurityOptions & { readonly ssl?: boolean },
): KafkajsSecurity {
  const problems = kafkaSecurityProblems(options);
  if (problems.length > 0) {
    throw new KafkaSecurityError('KAFKA_SECURITY_CONFIG_INVALID', problems.join('; '));
  }
  const tls = options.tls ?? options.ssl ?? false;
  const ssl = typeof tls === 'object' ? tlsOptions(tls) : tls;
  const sasl = options.sasl;
  if (sasl === undefined) return { ssl, sasl: undefined };
  if (sasl.mechanism === 'oauthbearer') {
    const token = sasl.token;
    return {
      ssl,
      sasl: {
        mechanism: 'oauthbearer',
        oauthBearerProvider: async () => ({ value: (await token()).value }),
      },
    };
  }
  return {
    ssl,
    sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password },
  };
}
