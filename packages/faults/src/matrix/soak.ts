/**
 * The soak: one long scenario in which capture and the projection runtime are SIGKILLed
 * over and over (the supervisor restarts them) and random faults of the matrix hit the
 * servers and the network, for a fixed time, under writers paced to reach the event target.
 */
import type { Fault } from '../harness/pipeline.js';
import { matrixFaults, type FaultTimings } from './faults.js';

/** Options of {@link soakFault}. */
export interface SoakOptions {
  /** Minimum run time. Default 900 s. */
  readonly durationMs: number;
  /** Minimum SIGKILLs of our processes. Default 100. */
  readonly kills: number;
  /** One server or network fault every this many kills. Default 5. */
  readonly faultEveryKills: number;
  readonly timings: FaultTimings;
  readonly log: (message: string) => void;
}

/** What the soak did, filled in while it runs. */
export interface SoakReport {
  kills: number;
  faults: Record<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The soak as one long-running fault of a scenario. */
export function soakFault(options: SoakOptions, report: SoakReport): Fault {
  // The slot drop ends capture for good by design; everything else may repeat.
  const faults = matrixFaults(options.timings).filter((fault) => fault.expectsHalt === undefined);
  return {
    name: 'soak',
    async inject(context) {
      const started = Date.now();
      const interval = options.durationMs / options.kills;
      while (report.kills < options.kills || Date.now() - started < options.durationMs) {
        await sleep(interval * (0.5 + Math.random()));
        const victim = Math.random() < 0.5 ? context.capture : context.projection;
        victim.kill();
        report.kills += 1;
        if (report.kills % options.faultEveryKills === 0) {
          const fault = faults[Math.floor(Math.random() * faults.length)];
          if (fault === undefined) continue;
          options.log(`soak: kill ${report.kills}, fault ${fault.name}`);
          await fault.inject(context);
          report.faults[fault.name] = (report.faults[fault.name] ?? 0) + 1;
        }
      }
    },
  };
}
