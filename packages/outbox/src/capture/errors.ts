import { TributaryError, type TributaryErrorOptions } from '@tributary/core';

/** Codes of the errors the capturer raises. */
export type CaptureErrorCode =
  | 'CAPTURE_CONFIG_INVALID'
  | 'CAPTURE_WAL_LEVEL'
  | 'CAPTURE_SLOT_MISSING'
  | 'CAPTURE_SLOT_LOST'
  | 'CAPTURE_SLOT_INVALIDATED'
  | 'CAPTURE_SLOT_MISMATCH'
  | 'CAPTURE_PUBLICATION_MISSING'
  | 'CAPTURE_UNROUTABLE_EVENT'
  | 'CAPTURE_CHECKPOINT_INVALID'
  | 'CAPTURE_CHECKPOINT_FOREIGN'
  | 'CAPTURE_CHECKPOINT_SLOT_CHANGED'
  | 'CAPTURE_CHECKPOINT_AHEAD'
  | 'CAPTURE_SLOT_RECREATED'
  | 'CAPTURE_PARTITIONS_CHANGED'
  | 'CAPTURE_RECORD_TOO_LARGE'
  | 'CAPTURE_RECORD_REJECTED'
  | 'CAPTURE_FENCED'
  | 'CAPTURE_KAFKA_INDETERMINATE'
  | 'CAPTURE_STREAM_ENDED'
  | 'CAPTURE_DATABASE_ACCESS_DENIED'
  | 'CAPTURE_DATABASE_TLS_FAILED'
  | 'CAPTURE_DATABASE_TLS_REQUIRED'
  | 'CAPTURE_OUTBOX_MISSING';

/**
 * An error of the WAL capturer. `retriable: true` means the capturer restarts its pipeline
 * from the Kafka checkpoint; `retriable: false` halts it, because carrying on could lose or
 * duplicate events.
 */
export class CaptureError extends TributaryError {
  declare readonly code: CaptureErrorCode;

  constructor(code: CaptureErrorCode, message: string, options: TributaryErrorOptions = {}) {
    super(code, message, options);
  }
}

/** True when `error` is a {@link CaptureError} (optionally with `code`), across duplicate package copies. */
export function isCaptureError(error: unknown, code?: CaptureErrorCode): error is CaptureError {
  if (typeof error !== 'object' || error === null) return false;
  const candidate = error as { isTributaryError?: unknown; code?: unknown };
  if (candidate.isTributaryError !== true || typeof candidate.code !== 'string') return false;
  if (!candidate.code.startsWith('CAPTURE_')) return false;
  return code === undefined || candidate.code === code;
}
