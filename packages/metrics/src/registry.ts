import { register, type Metric, type Registry } from 'prom-client';

/** Options every metrics factory of this package takes. */
export interface MetricsOptions {
  /**
   * Where the metrics are registered. Default: prom-client's global `register`, so an
   * application that already serves it exposes them with no further wiring.
   */
  readonly registry?: Registry;
}

/** Subscriptions and metrics of one factory call; `dispose` undoes both. */
export interface MetricsHandle {
  /** Unsubscribes from the instrumentation and removes the metrics from the registry. */
  dispose(): void;
}

/** The registry a factory uses. */
export const registryOf = (options: MetricsOptions): Registry => options.registry ?? register;

/** A handle that unsubscribes `subscriptions` and unregisters `metrics`. */
export function handleOf(
  registry: Registry,
  metrics: readonly Metric[],
  subscriptions: readonly (() => void)[],
): MetricsHandle {
  return {
    dispose() {
      for (const unsubscribe of subscriptions) unsubscribe();
      for (const metric of metrics) registry.removeSingleMetric(metricName(metric));
    },
  };
}

// prom-client keeps each metric's name in a field its typings do not declare.
const metricName = (metric: Metric): string => (metric as unknown as { name: string }).name;

/** Milliseconds to seconds, never negative (clocks of two machines may disagree slightly). */
export const seconds = (milliseconds: number): number => Math.max(0, milliseconds) / 1000;
