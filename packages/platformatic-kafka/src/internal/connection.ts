import type { Logger } from '@tributary/core';
import type { BaseOptions } from '@platformatic/kafka';
import type { TlsRequiredDetector } from './tls-required.js';

/** What every producer, consumer and admin of one client shares. */
export interface ConnectionSettings {
  /** The library's base options: brokers, client id, TLS, retries. */
  readonly base: BaseOptions;
  /** Receives what happens in the background (rejoins, fetch retries) as debug lines. */
  readonly logger: Logger | undefined;
  /** Turns a connect of a client without TLS to a TLS listener into `KAFKA_TLS_REQUIRED`. */
  readonly tlsRequired: TlsRequiredDetector;
}

/** Doubling delays from `initialMs`, at most `maxMs`. */
export function exponentialDelay(
  initialMs: number,
  maxMs: number,
): (client: object, operation: string, attempt: number) => number {
  return (_client, _operation, attempt) =>
    Math.min(initialMs * 2 ** Math.max(0, attempt - 1), maxMs);
}
