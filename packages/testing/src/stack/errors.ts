import { TributaryError } from '@tributary/core';

/** Machine-readable reasons the local stack can fail. */
export type StackErrorCode =
  /** A binary the stack needs (java, mvn, initdb, pg_ctl) is missing. */
  | 'STACK_PREREQUISITE_MISSING'
  /** Maven could not resolve or unpack a download. */
  | 'STACK_DOWNLOAD_FAILED'
  /** A server process exited or never became ready in time. */
  | 'STACK_START_FAILED'
  /** A process did not exit after SIGKILL. */
  | 'STACK_STOP_FAILED'
  /** A launcher option has a value it cannot use (e.g. `--brokers 0`). */
  | 'STACK_CONFIG_INVALID'
  /** Another launcher holds the lock for too long. */
  | 'STACK_LOCK_TIMEOUT'
  /** Tests asked for the integration environment but no stack or servers were provided. */
  | 'STACK_NOT_PROVIDED';

/**
 * Error raised by the local stack launcher and the integration-test helpers.
 *
 * `retriable` says whether running the same command again may succeed without a change
 * on the machine (e.g. a lock timeout), as opposed to a missing prerequisite.
 */
export class StackError extends TributaryError {
  declare readonly code: StackErrorCode;

  constructor(code: StackErrorCode, message: string, retriable = false, options?: ErrorOptions) {
    super(code, message, { retriable, cause: options?.cause });
  }
}

/**
 * Whether `error` is a {@link StackError}. Checks `name` and `code`, not only `instanceof`,
 * so it also recognises errors from a second copy of this package (duplicate builds).
 */
export function isStackError(error: unknown): error is StackError {
  if (error instanceof StackError) return true;
  if (!(error instanceof Error) || error.name !== 'StackError') return false;
  const { code } = error as { code?: unknown };
  return typeof code === 'string' && code.startsWith('STACK_');
}
