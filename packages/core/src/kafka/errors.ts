import { TributaryError, type TributaryErrorOptions } from '../errors.js';

/** Codes of the errors a Kafka client port implementation raises. */
export type KafkaClientErrorCode =
  | 'KAFKA_PRODUCER_FENCED'
  | 'KAFKA_INDETERMINATE'
  | 'KAFKA_UNKNOWN_TOPIC'
  | 'KAFKA_REQUEST_FAILED'
  | KafkaSecurityErrorCode;

/**
 * Codes of {@link KafkaSecurityError}: the broker refused the credentials, the principal
 * lacks an ACL, the TLS handshake failed (unknown CA, wrong server name, TLS against a
 * plaintext port), a client without TLS reached a TLS port (`KAFKA_TLS_REQUIRED`), a
 * mutual-TLS listener refused the client's certificate or its lack of one
 * (`KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED`), or the security settings themselves are unusable.
 */
export type KafkaSecurityErrorCode =
  | 'KAFKA_AUTHENTICATION_FAILED'
  | 'KAFKA_AUTHORIZATION_FAILED'
  | 'KAFKA_TLS_FAILED'
  | 'KAFKA_TLS_REQUIRED'
  | 'KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED'
  | 'KAFKA_SECURITY_CONFIG_INVALID';

/**
 * An error of a Kafka client behind the port. Implementations translate their library's
 * errors into these so that callers decide from `code` and `retriable`, never from a
 * library's error classes.
 */
export class KafkaClientError extends TributaryError {
  declare readonly code: KafkaClientErrorCode;

  constructor(code: KafkaClientErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * A newer producer with the same transactional id has initialised: this one is a zombie and
 * can commit nothing any more (Kafka's PRODUCER_FENCED / INVALID_PRODUCER_EPOCH). Not
 * retriable with this producer: the newer instance already aborted what this one left open.
 */
export class KafkaProducerFencedError extends KafkaClientError {
  /** The shared transactional id. */
  readonly transactionalId: string;

  constructor(transactionalId: string, options: Omit<TributaryErrorOptions, 'retriable'> = {}) {
    super(
      'KAFKA_PRODUCER_FENCED',
      `Producer with transactional id "${transactionalId}" was fenced by a newer instance`,
      { ...options, retriable: false, details: { transactionalId, ...options.details } },
    );
    this.transactionalId = transactionalId;
  }
}

/**
 * A call ended without a known outcome (a timeout, a lost connection, a broker error after
 * the request may have been applied). Retriable, but only from a known state: a producer
 * that saw it must be replaced and the work redone from the last durable checkpoint.
 */
export class KafkaIndeterminateError extends KafkaClientError {
  constructor(message: string, options: Omit<TributaryErrorOptions, 'retriable'> = {}) {
    super('KAFKA_INDETERMINATE', message, { ...options, retriable: true });
  }
}

/** True when `error` is a {@link KafkaProducerFencedError}, across duplicate package copies. */
export function isKafkaProducerFencedError(error: unknown): error is KafkaProducerFencedError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isTributaryError?: unknown }).isTributaryError === true &&
    (error as { code?: unknown }).code === 'KAFKA_PRODUCER_FENCED'
  );
}

/**
 * A misconfiguration of Kafka security. Never retriable: the same credentials, ACLs or
 * certificates fail the same way every time, so callers stop and report instead of looping.
 * The message says what is wrong and what to change; it never contains a secret.
 */
export class KafkaSecurityError extends KafkaClientError {
  declare readonly code: KafkaSecurityErrorCode;

  constructor(
    code: KafkaSecurityErrorCode,
    message: string,
    options: Omit<TributaryErrorOptions, 'retriable'> = {},
  ) {
    super(code, message, { ...options, retriable: false });
  }
}

/** True when `error` is a {@link KafkaSecurityError}, across duplicate package copies. */
export function isKafkaSecurityError(error: unknown): error is KafkaSecurityError {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isTributaryError?: unknown }).isTributaryError === true &&
    (code === 'KAFKA_AUTHENTICATION_FAILED' ||
      code === 'KAFKA_AUTHORIZATION_FAILED' ||
      code === 'KAFKA_TLS_FAILED' ||
      code === 'KAFKA_TLS_REQUIRED' ||
      code === 'KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED' ||
      code === 'KAFKA_SECURITY_CONFIG_INVALID')
  );
}

const TLS_PATTERNS = [
  /self[- ]signed certificate/i,
  /unable to (get|verify)/i,
  /certificate (has expired|is not yet valid|signature failure)/i,
  /ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match/i,
  /wrong version number|packet length too long|EPROTO|ssl3_get_record|tlsv1 alert/i,
  /Client network socket disconnected before secure TLS connection was established/i,
];
/**
 * The alert a mutual-TLS listener sends a client without an acceptable certificate: Kafka's
 * JSSE sends `bad_certificate` (TLS 1.2 wording in OpenSSL: "sslv3 alert bad certificate"),
 * TLS 1.3 servers may send `certificate_required`.
 */
const CLIENT_CERTIFICATE_PATTERN =
  /alert (bad certificate|certificate required)|ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED)/i;
const AUTHENTICATION_PATTERNS = [/SASL_AUTHENTICATION_FAILED/, /SASL.*authentication failed/i];
const AUTHORIZATION_NAMES = [
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
];

/**
 * Recognises a security failure in what a Kafka library reported (its Kafka protocol error
 * names and its message chain) and turns it into a {@link KafkaSecurityError} saying what to
 * do; `undefined` for anything else. Pure: both client implementations call it first in
 * their error translation, so neither retries a misconfiguration.
 *
 * @param names - Kafka protocol error names found in the library error
 * @param text - the library error's messages (with its causes), for TLS and SASL failures
 *   that carry no protocol name
 * @param what - the operation, for the message (`connect producer`, `fetch metadata`)
 */
export function kafkaSecurityFailure(
  names: ReadonlySet<string>,
  text: string,
  what: string,
  cause?: unknown,
): KafkaSecurityError | undefined {
  const authorization = AUTHORIZATION_NAMES.find((name) => names.has(name));
  if (authorization !== undefined) {
    return new KafkaSecurityError(
      'KAFKA_AUTHORIZATION_FAILED',
      `${what}: the broker refused it with ${authorization}: the Kafka principal lacks an ACL. ` +
        'Grant the ACLs `tributary grants` prints for this process (kafka-acls.sh) and start it again',
      { cause, details: { kafkaError: authorization } },
    );
  }
  if (
    names.has('SASL_AUTHENTICATION_FAILED') ||
    AUTHENTICATION_PATTERNS.some((p) => p.test(text))
  ) {
    return new KafkaSecurityError(
      'KAFKA_AUTHENTICATION_FAILED',
      `${what}: the broker rejected the SASL credentials (user name, password or mechanism). ` +
        'Check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD against the user the broker knows',
      { cause, details: { kafkaError: 'SASL_AUTHENTICATION_FAILED' } },
    );
  }
  if (names.has('UNSUPPORTED_SASL_MECHANISM') || names.has('ILLEGAL_SASL_STATE')) {
    return new KafkaSecurityError(
      'KAFKA_AUTHENTICATION_FAILED',
      `${what}: the broker does not accept this SASL mechanism on this listener. ` +
        'Set KAFKA_SASL_MECHANISM to one the listener enables (sasl.enabled.mechanisms)',
      { cause, details: { kafkaError: [...names].join(',') } },
    );
  }
  if (CLIENT_CERTIFICATE_PATTERN.test(text)) {
    return kafkaClientCertificateRejected(what, undefined, cause);
  }
  if (TLS_PATTERNS.some((pattern) => pattern.test(text))) {
    return new KafkaSecurityError(
      'KAFKA_TLS_FAILED',
      `${what}: the TLS handshake with the broker failed (${firstLine(text)}). ` +
        'Check that the port is a TLS listener, that KAFKA_TLS_CA_FILE holds the CA that signed the broker ' +
        'certificate, and that the certificate names the host (or set KAFKA_TLS_SERVER_NAME)',
      { cause },
    );
  }
  return undefined;
}

/**
 * The error for a client without TLS whose broker turned out to speak TLS: the broker closes
 * such a connection without a word, which the libraries report like a network failure, so
 * the implementations probe the port with a TLS handshake after a failed connect and use
 * this when it answers. Pure.
 *
 * @param what - the operation, for the message (`connecting the producer`)
 * @param broker - the `host:port` that answered the TLS handshake
 */
export function kafkaTlsRequired(
  what: string,
  broker: string,
  cause?: unknown,
): KafkaSecurityError {
  return new KafkaSecurityError(
    'KAFKA_TLS_REQUIRED',
    `${what}: the broker at ${broker} expects TLS, and this client connects without it. ` +
      'Set KAFKA_SSL=true (--kafka-ssl true), and KAFKA_TLS_CA_FILE (--kafka-tls-ca-file) ' +
      'unless a public CA signed the broker certificate',
    { cause, details: { broker } },
  );
}

/**
 * The error for a mutual-TLS listener (`ssl.client.auth=required`) that refused this client's
 * certificate, or its lack of one, with a TLS alert. Pure.
 *
 * @param what - the operation, for the message
 * @param broker - the `host:port` that refused, when known
 */
export function kafkaClientCertificateRejected(
  what: string,
  broker: string | undefined,
  cause?: unknown,
): KafkaSecurityError {
  return new KafkaSecurityError(
    'KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED',
    `${what}: the broker${broker === undefined ? '' : ` at ${broker}`} requires a client certificate (mutual TLS) ` +
      'and refused this client, which presents none or one the broker does not trust. Set KAFKA_TLS_CERT_FILE and ' +
      'KAFKA_TLS_KEY_FILE (--kafka-tls-cert-file, --kafka-tls-key-file) to a certificate signed by a CA in the ' +
      "broker's ssl.truststore, or connect to the broker's SASL listener instead",
    { cause, ...(broker === undefined ? {} : { details: { broker } }) },
  );
}

const firstLine = (text: string): string => (text.split('\n')[0] ?? '').slice(0, 200);
