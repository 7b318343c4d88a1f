/**
 * Named crash points for the crash tests. `TRIBUTARY_CRASH_AT=<point>[:<n>]` makes the
 * process SIGKILL itself the n-th time (default 1st) it reaches `<point>`;
 * `TRIBUTARY_PAUSE_AT=<point>[:<n>]` makes it SIGSTOP itself there instead (a "zombie" that
 * resumes on SIGCONT). Unset, a crash point costs one comparison.
 */

/** The places where a crash is most likely to break exactly-once, in pipeline order. */
export type CrashPoint =
  /** The records of a Kafka transaction carrying events were sent; it is not committed. */
  | 'produce'
  /** The Kafka transaction committed; the LSN is not yet acknowledged to PostgreSQL. */
  | 'after-commit'
  /** The LSN acknowledgement was just sent to PostgreSQL. */
  | 'after-ack';

/** Reaches crash points; replaceable in unit tests. */
export type CrashPoints = (point: CrashPoint) => void;

interface Trigger {
  readonly point: string;
  readonly nth: number;
  readonly signal: 'SIGKILL' | 'SIGSTOP';
}

const parseTrigger = (
  value: string | undefined,
  signal: Trigger['signal'],
): Trigger | undefined => {
  if (value === undefined || value === '') return undefined;
  const [point = '', nth = '1'] = value.split(':');
  return { point, nth: Math.max(1, Number(nth) || 1), signal };
};

/** Crash points driven by `TRIBUTARY_CRASH_AT` / `TRIBUTARY_PAUSE_AT` in `env`. */
export function crashPointsFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
): CrashPoints {
  const triggers = [
    parseTrigger(env.TRIBUTARY_CRASH_AT, 'SIGKILL'),
    parseTrigger(env.TRIBUTARY_PAUSE_AT, 'SIGSTOP'),
  ].filter((trigger) => trigger !== undefined);
  if (triggers.length === 0) return noCrashPoints;
  const reached = new Map<string, number>();
  return (point) => {
    const count = (reached.get(point) ?? 0) + 1;
    reached.set(point, count);
    for (const trigger of triggers) {
      if (trigger.point === point && trigger.nth === count) {
        process.stderr.write(`crash point ${point} #${count}: ${trigger.signal}\n`);
        process.kill(process.pid, trigger.signal);
      }
    }
  };
}

/** No crash points (production). */
export const noCrashPoints: CrashPoints = () => undefined;
