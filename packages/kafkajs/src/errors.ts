/**
 * kafkajs errors → the port's typed errors. kafkajs reports Kafka protocol errors as
 * `error.type` (often wrapped in a retrier error's `originalError` or a `cause`), and
 * kafkajs 2.2.4 predates PRODUCER_FENCED (code 90), which it reports untyped.
 */
import {
  KafkaClientError,
  KafkaIndeterminateError,
  KafkaProducerFencedError,
  isTributaryError,
  kafkaSecurityFailure,
} from '@tributary/core';

/** Errors after which a producer can never commit again: another instance took over. */
const FENCING_ERRORS = new Set([
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

/** The Kafka protocol error name of a kafkajs error, looking through wrappers. */
export function kafkaErrorType(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    if ((current as { code?: unknown }).code === 90) return 'PRODUCER_FENCED';
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && type !== 'UNKNOWN') return type;
    current =
      (current as { cause?: unknown; originalError?: unknown }).originalError ??
      (current as { cause?: unknown }).cause;
  }
  return undefined;
}

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * A producer call's failure: fencing is final, anything else leaves the outcome unknown
 * (a commit may or may not have landed), which only a fresh producer can resolve.
 */
export function producerError(
  error: unknown,
  transactionalId: string | undefined,
  what: string,
): Error {
  if (isTributaryError(error)) return error;
  const security = securityFailure(error, what);
  if (security !== undefined) return security;
  const type = kafkaErrorType(error);
  if (transactionalId !== undefined && type !== undefined && FENCING_ERRORS.has(type)) {
    return new KafkaProducerFencedError(transactionalId, {
      cause: error,
      details: { kafkaError: type },
    });
  }
  return new KafkaIndeterminateError(`${what} failed: ${messageOf(error)}`, {
    cause: error,
    details: type === undefined ? {} : { kafkaError: type },
  });
}

/**
 * An admin or consumer request's failure. Retriable: brokers and metadata heal, and every
 * caller restarts from durable state.
 */
export function requestError(error: unknown, what: string): Error {
  if (isTributaryError(error)) return error;
  const security = securityFailure(error, what);
  if (security !== undefined) return security;
  const type = kafkaErrorType(error);
  return new KafkaClientError(
    type === 'UNKNOWN_TOPIC_OR_PARTITION' ? 'KAFKA_UNKNOWN_TOPIC' : 'KAFKA_REQUEST_FAILED',
    `${what} failed: ${messageOf(error)}`,
    { retriable: true, cause: error, details: type === undefined ? {} : { kafkaError: type } },
  );
}

/** Runs a kafkajs call, translating its failure with `translate`. */
export async function translated<T>(
  call: () => Promise<T>,
  translate: (error: unknown) => Error,
): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw translate(error);
  }
}

/**
 * Every Kafka protocol error name and message in a kafkajs error, its wrappers and its
 * aggregates (`createTopics` reports one error per topic in `errors`).
 */
function errorChain(error: unknown): { names: Set<string>; text: string } {
  const names = new Set<string>();
  const messages: string[] = [];
  const visit = (current: unknown, depth: number): void => {
    if (depth > 6 || typeof current !== 'object' || current === null) return;
    const type = (current as { type?: unknown }).type;
    if (typeof type === 'string' && type !== 'UNKNOWN') names.add(type);
    if (current instanceof Error) messages.push(`${current.name}: ${current.message}`);
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested)) for (const inner of nested) visit(inner, depth + 1);
    visit(
      (current as { originalError?: unknown }).originalError ??
        (current as { cause?: unknown }).cause,
      depth + 1,
    );
  };
  visit(error, 0);
  return { names, text: messages.join('\n') };
}

/**
 * A TLS, SASL or ACL failure as a non-retriable `KafkaSecurityError`; `undefined` otherwise.
 * kafkajs names SASL failures by class (`KafkaJSSASLAuthenticationError`), not by type.
 */
export function securityFailure(error: unknown, what: string): Error | undefined {
  const { names, text } = errorChain(error);
  if (/KafkaJSSASLAuthenticationError/.test(text)) names.add('SASL_AUTHENTICATION_FAILED');
  return kafkaSecurityFailure(names, text, what, error);
}
