import { TributaryError, type TributaryErrorOptions } from '../errors.js';

/** Codes of the errors a Kafka client port implementation raises. */
export type KafkaClientErrorCode =
  'KAFKA_PRODUCER_FENCED' | 'KAFKA_INDETERMINATE' | 'KAFKA_UNKNOWN_TOPIC' | 'KAFKA_REQUEST_FAILED';

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
