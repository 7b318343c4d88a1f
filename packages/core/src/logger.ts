/**
 * The one logger interface of Tributary. The capturer, the projection runtime, the Kafka
 * clients and the CLI all log through it, so an application plugs in pino, winston or the
 * console once. The library default is {@link silentLogger}; the CLI builds a console logger.
 */

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Every level, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Structured fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A message plus structured fields. Plug in pino, winston or the console. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger that drops everything (the default of every library API). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** True when `value` names a {@link LogLevel}. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(ORDER, value);
}

/** Options of {@link createConsoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Lowest level written. Default `info`. */
  readonly level?: LogLevel;
  /** `text` (`time LEVEL message key=value …`) or `json` (one object per line). Default `text`. */
  readonly format?: 'text' | 'json';
  /** Where lines go. Default: stderr (stdout stays free for a command's output). */
  readonly write?: (line: string) => void;
  /** Clock, replaceable in tests. */
  readonly now?: () => Date;
  /**
   * Fields of the moment added to every entry, e.g. the active trace's `trace_id` and
   * `span_id` (the CLI passes `activeTraceFields` of @tributary/metrics). An entry's own
   * fields win. Default: none.
   */
  readonly context?: () => LogFields | undefined;
}

const formatValue = (value: unknown): string => {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value, jsonValue) ?? 'undefined';
};

// LSNs and offsets are bigints, and errors carry their message: both must survive JSON lines.
const jsonValue = (_key: string, value: unknown): unknown =>
  typeof value === 'bigint' ? value.toString() : value instanceof Error ? value.message : value;

/** A logger writing one line per entry, as text or JSON. */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const threshold = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      if (ORDER[level] < threshold) return;
      const time = now().toISOString();
      const context = options.context?.();
      if (context !== undefined) fields = { ...context, ...fields };
      if (options.format === 'json') {
        write(JSON.stringify({ time, level, message, ...fields }, jsonValue));
        return;
      }
      const rest = Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${formatValue(value)}`)
        .join(' ');
      write(`${time} ${level.toUpperCase().padEnd(5)} ${message}${rest === '' ? '' : ` ${rest}`}`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
