import { createConsoleLogger, type Logger, type LogLevel } from '@tributary/core';
import { activeTraceFields } from '@tributary/metrics';
import { UsageError } from './output.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Log flags shared by the long-running commands (`capture`, `project`). */
export const LOG_USAGE = `  --log-level <level>     debug, info, warn or error (env TRIBUTARY_LOG_LEVEL; default info)
  --log-format <fmt>      text or json (env TRIBUTARY_LOG_FORMAT; default text)`;

/**
 * The console logger of a long-running command, from `--log-level`/`--log-format` or
 * `TRIBUTARY_LOG_LEVEL`/`TRIBUTARY_LOG_FORMAT` (flags win), writing to `write`. Entries
 * made while an OpenTelemetry span is active carry `trace_id` and `span_id`.
 *
 * @throws UsageError for an unknown level or format.
 */
export function commandLogger(
  flags: { readonly level?: string | undefined; readonly format?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
  write: (line: string) => void,
): Logger {
  const format = flags.format ?? nonEmpty(env.TRIBUTARY_LOG_FORMAT) ?? 'text';
  const level = flags.level ?? nonEmpty(env.TRIBUTARY_LOG_LEVEL) ?? 'info';
  if (format !== 'text' && format !== 'json') {
    throw new UsageError(`--log-format must be text or json, not ${format}`);
  }
  if (!LEVELS.includes(level as LogLevel)) {
    throw new UsageError(`--log-level must be debug, info, warn or error, not ${level}`);
  }
  // Lines written inside a span (a projection handler's, with an OpenTelemetry SDK that
  // carries context) name its trace, so logs and traces join up.
  return createConsoleLogger({
    format,
    level: level as LogLevel,
    write,
    context: activeTraceFields,
  });
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;
