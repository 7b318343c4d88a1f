/**
 * Where the metrics server of `tributary capture` and `tributary project` listens: flag,
 * environment variable, or (capture) the `metrics` object of the config file, in that order
 * of precedence. No port anywhere: no server, and no metrics are collected at all.
 */
import { UsageError } from '../output.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** Settings of the metrics/health server. */
export interface ObservabilitySettings {
  readonly port: number;
  /** Default `0.0.0.0` (Prometheus scrapes from elsewhere). */
  readonly host: string;
  /** `tributary project`: most records of lag (per projection) for `/readyz`. Default 1000. */
  readonly readyMaxLag: number;
}

/** The `metrics` object a capture config file may hold. */
export interface ObservabilityFileSettings {
  readonly port?: number;
  readonly host?: string;
}

/** `parseArgs` options of the settings. */
export const observabilityOptions = {
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'ready-max-lag': { type: 'string' },
} as const;

/** Help lines of the settings. */
export const OBSERVABILITY_USAGE = `  --metrics-port <n>      Serve /metrics, /healthz, /readyz on this port (env TRIBUTARY_METRICS_PORT;
                          default: off; 0 = any free port)
  --metrics-host <addr>   Address to listen on (env TRIBUTARY_METRICS_HOST; default 0.0.0.0)`;

/** Help line of the projection readiness threshold. */
export const READY_MAX_LAG_USAGE = `  --ready-max-lag <n>     /readyz fails while a projection lags more records than this
                          (env TRIBUTARY_READY_MAX_LAG; default 1000)`;

const DEFAULT_HOST = '0.0.0.0';
const DEFAULT_READY_MAX_LAG = 1000;

const nonNegativeInteger = (raw: string, source: string, most = Number.MAX_SAFE_INTEGER) => {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(value) || value < 0 || value > most) {
    throw new UsageError(`${source} must be an integer from 0 to ${most}, not ${raw}`);
  }
  return value;
};

/**
 * The settings, or `undefined` when no port is set (metrics off).
 *
 * @throws UsageError naming the flag, variable or file key of a malformed value.
 */
export function observabilitySettingsFrom(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
  file: ObservabilityFileSettings = {},
): ObservabilitySettings | undefined {
  const text = (flag: string, variable: string): [string, string] | undefined => {
    const fromFlag = values[flag];
    if (typeof fromFlag === 'string') return [fromFlag, `--${flag}`];
    const fromEnv = env[variable];
    return fromEnv === undefined || fromEnv === '' ? undefined : [fromEnv, variable];
  };
  const port = text('metrics-port', 'TRIBUTARY_METRICS_PORT');
  const filePort = file.port;
  if (port === undefined && filePort === undefined) return undefined;
  const host = text('metrics-host', 'TRIBUTARY_METRICS_HOST');
  const readyMaxLag = text('ready-max-lag', 'TRIBUTARY_READY_MAX_LAG');
  return {
    port:
      port === undefined
        ? nonNegativeInteger(String(filePort), 'metrics.port of the config file', 65_535)
        : nonNegativeInteger(port[0], port[1], 65_535),
    host: host?.[0] ?? file.host ?? DEFAULT_HOST,
    readyMaxLag:
      readyMaxLag === undefined
        ? DEFAULT_READY_MAX_LAG
        : nonNegativeInteger(readyMaxLag[0], readyMaxLag[1]),
  };
}
