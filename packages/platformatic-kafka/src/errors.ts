/**
 * @platformatic/kafka errors → the port's typed errors. The library reports Kafka protocol
 * errors as `ProtocolError`s (`apiId` is the protocol name) nested in `ResponseError`s and
 * in the `MultipleErrors` its retrier builds, so the names are collected from the whole tree.
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

/** The Kafka protocol error names anywhere in a library error (wrappers, aggregates, causes). */
export function kafkaErrorNames(error: unknown): Set<string> {
  const names = new Set<string>();
  const visit = (current: unknown, depth: number): void => {
    if (depth > 6 || typeof current !== 'object' || current === null) return;
    const apiId = (current as { apiId?: unknown }).apiId;
    if (typeof apiId === 'string') names.add(apiId);
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested)) for (const inner of nested) visit(inner, depth + 1);
    visit((current as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return names;
}

/** The most telling protocol error name, for `details.kafkaError`. */
function firstName(names: Set<string>): Record<string, string> {
  const [name] = names;
  return name === undefined ? {} : { kafkaError: name };
}

const messageOf = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  // Aggregates say "X failed 4 times."; the last attempt's message says why.
  const nested = (error as { errors?: unknown }).errors;
  const last: unknown = Array.isArray(nested) ? nested[nested.length - 1] : undefined;
  return last instanceof Error && last !== error
    ? `${error.message} (${messageOf(last)})`
    : error.message;
};

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
  const names = kafkaErrorNames(error);
  const fencing = [...names].find((name) => FENCING_ERRORS.has(name));
  if (transactionalId !== undefined && fencing !== undefined) {
    return new KafkaProducerFencedError(transactionalId, {
      cause: error,
      details: { kafkaError: fencing },
    });
  }
  return new KafkaIndeterminateError(`${what} failed: ${messageOf(error)}`, {
    cause: error,
    details: firstName(names),
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
  const names = kafkaErrorNames(error);
  return new KafkaClientError(
    names.has('UNKNOWN_TOPIC_OR_PARTITION') ? 'KAFKA_UNKNOWN_TOPIC' : 'KAFKA_REQUEST_FAILED',
    `${what} failed: ${messageOf(error)}`,
    { retriable: true, cause: error, details: firstName(names) },
  );
}

/** Runs a library call, translating its failure with `translate`. */
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

/** Every message in a library error tree (wrappers, aggregates, causes). */
function messages(error: unknown): string {
  const lines: string[] = [];
  const visit = (current: unknown, depth: number): void => {
    if (depth > 6 || typeof current !== 'object' || current === null) return;
    if (current instanceof Error) lines.push(`${current.name}: ${current.message}`);
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested)) for (const inner of nested) visit(inner, depth + 1);
    visit((current as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return lines.join('\n');
}

/** A TLS, SASL or ACL failure as a non-retriable `KafkaSecurityError`; `undefined` otherwise. */
export function securityFailure(error: unknown, what: string): Error | undefined {
  return kafkaSecurityFailure(kafkaErrorNames(error), messages(error), what, error);
}
