/**
 * How a Kafka client authenticates and encrypts: TLS (server verification against a CA
 * bundle, optional client certificate) and SASL (PLAIN, SCRAM-SHA-256/512, or OAUTHBEARER
 * through a token callback). Both client implementations map these options onto their
 * library; key material is PEM text, never a path, because the core does no I/O (the CLI
 * reads the files).
 */

/** TLS to the brokers. Present (even empty) means TLS on, verifying the broker's certificate. */
export interface KafkaTls {
  /** CA bundle (PEM) the broker certificates must chain to. Default: Node's public CAs. */
  readonly ca?: string;
  /** Client certificate chain (PEM), for brokers with `ssl.client.auth=required`. */
  readonly cert?: string;
  /** Private key (PEM, unencrypted) of {@link KafkaTls.cert}. */
  readonly key?: string;
  /**
   * Name the broker certificate must carry (SNI and verification), when it differs from
   * the host dialled (e.g. brokers reached through a tunnel). Default: the broker's host.
   */
  readonly serverName?: string;
}

/** The SASL mechanisms that authenticate with a user name and password. */
export type KafkaSaslPasswordMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** Every SASL mechanism the clients support. */
export const KAFKA_SASL_MECHANISMS = [
  'plain',
  'scram-sha-256',
  'scram-sha-512',
  'oauthbearer',
] as const;

/** SASL with a user name and password. */
export interface KafkaSaslPassword {
  readonly mechanism: KafkaSaslPasswordMechanism;
  readonly username: string;
  readonly password: string;
}

/** An OAUTHBEARER token, as an identity provider issued it. */
export interface KafkaOauthBearerToken {
  /** The token (usually a JWT). */
  readonly value: string;
}

/**
 * SASL/OAUTHBEARER: `token` is called on every (re)authentication, so it may fetch or
 * refresh a token from an identity provider (e.g. AWS MSK IAM, Confluent Cloud OAuth).
 * Library API only: a callback cannot come from a file or an environment variable.
 */
export interface KafkaSaslOauthBearer {
  readonly mechanism: 'oauthbearer';
  readonly token: () => Promise<KafkaOauthBearerToken>;
}

/** SASL authentication. */
export type KafkaSasl = KafkaSaslPassword | KafkaSaslOauthBearer;

/** Security options shared by both Kafka client implementations. */
export interface KafkaSecurityOptions {
  /** `true` or a {@link KafkaTls} turns TLS on. Default: plaintext. */
  readonly tls?: boolean | KafkaTls;
  /** SASL authentication. Default: none. */
  readonly sasl?: KafkaSasl;
}

/**
 * Checks security options for mistakes a broker would only report as an opaque handshake
 * failure: a certificate without its key (or the reverse), an empty user name or password,
 * an unknown mechanism.
 *
 * @returns the problems, each saying what to fix; empty when the options are usable
 */
export function kafkaSecurityProblems(options: KafkaSecurityOptions): string[] {
  const problems: string[] = [];
  const tls = typeof options.tls === 'object' ? options.tls : undefined;
  if (tls !== undefined && (tls.cert === undefined) !== (tls.key === undefined)) {
    problems.push(
      'a TLS client certificate needs its private key and a key needs its certificate: set both or neither',
    );
  }
  const sasl = options.sasl;
  if (sasl !== undefined) {
    if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(sasl.mechanism)) {
      problems.push(
        `SASL mechanism ${JSON.stringify(sasl.mechanism)} is not one of ${KAFKA_SASL_MECHANISMS.join(', ')}`,
      );
    } else if (sasl.mechanism === 'oauthbearer') {
      if (typeof sasl.token !== 'function') {
        problems.push('SASL OAUTHBEARER needs a token callback (library API only)');
      }
    } else {
      if (sasl.username === '') problems.push(`SASL ${sasl.mechanism} needs a user name`);
      if (sasl.password === '') problems.push(`SASL ${sasl.mechanism} needs a password`);
    }
  }
  return problems;
}
