import { isRetriableError, RetriesExhaustedError } from './errors.js';

/** How to retry an operation. All durations are in milliseconds. */
export interface RetryOptions {
  /** Retries after the first attempt. Default 5. */
  readonly retries?: number;
  /** Delay before the first retry. Default 20 ms. */
  readonly initialDelayMs?: number;
  /** Upper bound of one delay. Default 1,000 ms. */
  readonly maxDelayMs?: number;
  /** Growth of the delay per retry. Default 2. */
  readonly factor?: number;
  /** Random spread of each delay, 0..1 (0.2 = ±20 %). Default 0.2, so retrying writers do not march in step. */
  readonly jitter?: number;
  /** Whether an error is worth another attempt. Default: Tributary errors with `retriable: true`. */
  readonly isRetriable?: (error: unknown) => boolean;
  /** Called before each retry; useful for logs and instrumentation. */
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Replaceable sleep, so tests run with fast or fake timings. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Replaceable randomness for jitter. */
  readonly random?: () => number;
  /** Name used in the {@link RetriesExhaustedError} message. */
  readonly operation?: string;
}

/** The defaults of {@link RetryOptions}. */
export const defaultRetryOptions = {
  retries: 5,
  initialDelayMs: 20,
  maxDelayMs: 1_000,
  factor: 2,
  jitter: 0.2,
} as const;

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** The delay before retry number `attempt` (1-based), before jitter. */
export function backoffDelay(attempt: number, options: RetryOptions = {}): number {
  const initial = options.initialDelayMs ?? defaultRetryOptions.initialDelayMs;
  const factor = options.factor ?? defaultRetryOptions.factor;
  const max = options.maxDelayMs ?? defaultRetryOptions.maxDelayMs;
  return Math.min(max, initial * factor ** (attempt - 1));
}

/**
 * Runs `operation` until it succeeds, a non-retriable error occurs (rethrown as is), or the
 * retries are used up ({@link RetriesExhaustedError} with the last error as `cause`). The
 * one retry helper of the project: each adapter says what is retriable through
 * `isRetriable`, instead of writing its own loop.
 */
export async function retry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const retries = options.retries ?? defaultRetryOptions.retries;
  const isRetriable = options.isRetriable ?? isRetriableError;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const jitter = options.jitter ?? defaultRetryOptions.jitter;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isRetriable(error)) throw error;
      if (attempt > retries) {
        throw new RetriesExhaustedError(options.operation ?? 'operation', attempt, error);
      }
      const base = backoffDelay(attempt, options);
      const delayMs = Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
    }
  }
}
