import type { KafkaClient, Logger } from '@tributary/core';
import { createProjectionMetrics } from '@tributary/metrics';
import {
  projectionStatus,
  type AnyProjection,
  type ProjectionRuntime,
  type ProjectionStatus,
} from '@tributary/projections';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { startObservabilityServer, type ObservabilityServer } from './server.js';
import type { ObservabilitySettings } from './settings.js';

/** What {@link serveProjectionObservability} watches. */
export interface ProjectionObservabilityTarget {
  readonly runtime: ProjectionRuntime;
  readonly kafka: KafkaClient;
  /** The projections this process runs. */
  readonly projections: readonly AnyProjection[];
  readonly logger: Logger;
  /**
   * The whole pipeline's status from these projections' (`pipelineStatus`), for the status
   * page. Absent: no page.
   */
  readonly pipeline?: (projections: readonly ProjectionStatus[]) => Promise<unknown>;
}

/**
 * Serves the projection runtime's metrics and health. Live until the runtime stopped; ready
 * once every projection's consumer joined its group (partitions assigned, possibly none when
 * other processes hold them all) and no projection lags more than `readyMaxLag` records.
 * Lag comes from the database checkpoints and the read_committed end offsets, read at most
 * once a second however often Prometheus and the probes ask.
 */
export async function serveProjectionObservability(
  settings: ObservabilitySettings,
  target: ProjectionObservabilityTarget,
): Promise<ObservabilityServer> {
  const { runtime, kafka, projections, logger } = target;
  const runs = new Set(projections.map((p) => `${p.name}@${p.version}`));
  const assigned = new Set<string>();
  runtime.instrumentation.on('projection.partitions.assigned', (event) => {
    assigned.add(event.projection);
  });
  let stopped = false;
  runtime.stopped.then(
    () => (stopped = true),
    () => (stopped = true),
  );

  let cached: { at: number; value: Promise<ProjectionStatus[]> } | undefined;
  const status = (): Promise<ProjectionStatus[]> => {
    if (cached === undefined || Date.now() - cached.at > 1_000) {
      const value = projectionStatus(runtime.store, kafka, projections).then((all) =>
        all.filter((s) => runs.has(`${s.projection}@${s.version}`)),
      );
      // A failed read is not kept: the next scrape or probe tries again.
      value.catch(() => (cached = undefined));
      cached = { at: Date.now(), value };
    }
    return cached.value;
  };

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  createProjectionMetrics({ registry, instrumentation: runtime.instrumentation, status });
  return startObservabilityServer({
    port: settings.port,
    host: settings.host,
    registry,
    logger,
    live: () => ({ ok: !stopped, status: stopped ? 'stopped' : 'running' }),
    ...(target.pipeline === undefined
      ? {}
      : { status: async () => target.pipeline?.(await status()) }),
    ready: async () => {
      if (stopped) return { ok: false, status: 'stopped', reasons: ['the runtime stopped'] };
      const reasons = projections
        .filter((p) => !assigned.has(p.name))
        .map((p) => `${p.name}: no partitions assigned yet (consumer group not joined)`);
      const lag: Record<string, number> = {};
      try {
        for (const s of await status()) {
          lag[s.projection] = s.lag;
          if (s.lag > settings.readyMaxLag)
            reasons.push(`${s.projection}: lag ${s.lag} records > ${settings.readyMaxLag}`);
        }
      } catch (error) {
        reasons.push(`lag unknown: ${error instanceof Error ? error.message : String(error)}`);
      }
      return {
        ok: reasons.length === 0,
        status: reasons.length === 0 ? 'ready' : 'not ready',
        ...(reasons.length === 0 ? {} : { reasons }),
        details: { lag, maxLag: settings.readyMaxLag },
      };
    },
  });
}
