/**
 * Fault injection for crash tests: kill (SIGKILL) or freeze (SIGSTOP) this very process at
 * a named point of the batch cycle. Off unless configured, e.g. through
 * `TRIBUTARY_CRASH_AT=after-handlers@3` (kill at the third batch that reaches that point).
 */

/** Named points of the batch cycle. */
export type FaultPoint =
  /** Batch transaction open, before the checkpoint row is locked. */
  | 'before-lock'
  /** Handlers applied and the checkpoint updated, before COMMIT. */
  | 'after-handlers'
  /** COMMIT done, before the Kafka offset commit. */
  | 'after-commit';

const FAULT_POINTS: readonly FaultPoint[] = ['before-lock', 'after-handlers', 'after-commit'];

/** What to do at a point: the signal to send to this process, and at which hit (1-based). */
export interface FaultPlan {
  readonly point: FaultPoint;
  readonly signal: 'SIGKILL' | 'SIGSTOP';
  readonly atHit: number;
}

/** Parses `<point>[@<n>]` (kill) from `TRIBUTARY_CRASH_AT` and `TRIBUTARY_PAUSE_AT` (freeze). */
export function faultPlansFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
): FaultPlan[] {
  const plans: FaultPlan[] = [];
  const parse = (value: string | undefined, signal: FaultPlan['signal']): void => {
    if (value === undefined || value === '') return;
    const [point, hit] = value.split('@');
    if (!FAULT_POINTS.includes(point as FaultPoint)) {
      throw new Error(
        `Unknown fault point "${String(point)}"; expected one of ${FAULT_POINTS.join(', ')}`,
      );
    }
    const atHit = hit === undefined ? 1 : Number(hit);
    if (!Number.isSafeInteger(atHit) || atHit < 1)
      throw new Error(`Bad fault hit count in "${value}"`);
    plans.push({ point: point as FaultPoint, signal, atHit });
  };
  parse(env['TRIBUTARY_CRASH_AT'], 'SIGKILL');
  parse(env['TRIBUTARY_PAUSE_AT'], 'SIGSTOP');
  return plans;
}

/** What a fired plan does; the default signals this process. */
export type FaultAction = (plan: FaultPlan) => void;

const signalSelf: FaultAction = (plan) => {
  process.kill(process.pid, plan.signal);
};

/**
 * Thrown by an in-process fault action (the in-memory runtime's simulated crash). The
 * applier lets it through untouched: a crash is not a failure to retry.
 */
export class SimulatedCrash extends Error {
  readonly isSimulatedCrash = true as const;

  constructor(readonly point: FaultPoint) {
    super(`Simulated crash at ${point}`);
    this.name = 'SimulatedCrash';
  }
}

/** Whether an error is a {@link SimulatedCrash} (checked by marker, across package copies). */
export function isSimulatedCrash(error: unknown): error is SimulatedCrash {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isSimulatedCrash?: unknown }).isSimulatedCrash === true
  );
}

/** Counts hits of each point and fires the plans (by default: signals this process). */
export class FaultInjector {
  readonly #hits = new Map<FaultPoint, number>();
  readonly #plans: FaultPlan[];

  constructor(
    plans: readonly FaultPlan[],
    private readonly action: FaultAction = signalSelf,
  ) {
    this.#plans = [...plans];
  }

  /** Adds a plan; its hit count starts from the current count of its point. */
  add(plan: Omit<FaultPlan, 'atHit'> & { readonly inHits?: number }): void {
    const current = this.#hits.get(plan.point) ?? 0;
    this.#plans.push({
      point: plan.point,
      signal: plan.signal,
      atHit: current + (plan.inHits ?? 1),
    });
  }

  /** Whether any plan is configured (the hot path skips everything otherwise). */
  get active(): boolean {
    return this.#plans.length > 0;
  }

  /** Records a hit of `point`; signals this process if a plan fires on it. */
  hit(point: FaultPoint): void {
    const count = (this.#hits.get(point) ?? 0) + 1;
    this.#hits.set(point, count);
    if (this.#plans.length === 0) return;
    for (const plan of this.#plans) {
      if (plan.point === point && plan.atHit === count) this.action(plan);
    }
  }
}
