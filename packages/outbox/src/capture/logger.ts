/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The capturer's logger: a message plus structured fields. Plug in pino, winston or console. */
export interface CaptureLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of {@link createConsoleLogger}. */
export interface ConsoleLoggerOptions {
  /** Lowest level written. Default `info`. */
  readonly level?: LogLevel;
  /** `text` (`time level message key=value …`) or `json` (one object per line). Default `text`. */
  readonly format?: 'text' | 'json';
  /** Where lines go. Default: stderr. */
  readonly write?: (line: string) => void;
  /** Clock, replaceable in tests. */
  readonly now?: () => Date;
}

const formatValue = (value: unknown): string => {
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return JSON.stringify(value.message);
  return JSON.stringify(value) ?? 'undefined';
};

/** A logger writing one line per entry, as text or JSON. */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): CaptureLogger {
  const threshold = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      if (ORDER[level] < threshold) return;
      const time = now().toISOString();
      if (options.format === 'json') {
        write(
          JSON.stringify({ time, level, message, ...fields }, (_key, value: unknown) =>
            typeof value === 'bigint'
              ? value.toString()
              : value instanceof Error
                ? value.message
                : value,
          ),
        );
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

/** A logger that drops everything (the default of the library API). */
export const silentLogger: CaptureLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
