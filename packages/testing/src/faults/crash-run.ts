/**
 * The two lengths of the crash suites. CI runs the short one on every change (each named
 * kill point on each Kafka client, a few random kills, a smaller backlog) so `npm test`
 * stays within its time budget; `npm run test:crash` runs the long one (more random kills,
 * the full backlog) and is what a change to the capture, projection or reactor runtime
 * should pass before release.
 */

/** Environment variable that selects the long crash run (`1`). */
export const CRASH_LONG_ENV = 'TRIBUTARY_CRASH_LONG';

/** Sizes a crash suite picks between. */
export interface CrashRunSizes<T> {
  /** What `npm test` (CI) runs. */
  readonly short: T;
  /** What `npm run test:crash` runs. */
  readonly long: T;
}

/**
 * Whether this run is the long crash run (`TRIBUTARY_CRASH_LONG=1`).
 *
 * @throws Error when the variable holds anything but `0`, `1` or nothing, so a typo does
 * not silently run the short suite.
 */
export function isLongCrashRun(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[CRASH_LONG_ENV];
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new Error(
    `${CRASH_LONG_ENV} must be 1 (long crash run) or 0/unset (short), not "${value}"`,
  );
}

/** The size of this run: `sizes.long` in the long crash run, `sizes.short` otherwise. */
export function crashRunSize<T>(sizes: CrashRunSizes<T>, env: NodeJS.ProcessEnv = process.env): T {
  return isLongCrashRun(env) ? sizes.long : sizes.short;
}
