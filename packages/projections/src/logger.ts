/** Structured fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The runtime's logger: a message plus structured fields. Plug in pino, winston or console. */
export interface ProjectionLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger that drops everything (the library default: the CLI brings its own). */
export const silentLogger: ProjectionLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

const render = (value: unknown): string => {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /[\s="]/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value) ?? 'undefined';
};

/** One `time level message key=value…` line per entry (or JSON with `json: true`), to stderr by default. */
export function createConsoleLogger(
  options: {
    readonly json?: boolean;
    readonly debug?: boolean;
    readonly write?: (line: string) => void;
  } = {},
): ProjectionLogger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log =
    (level: string) =>
    (message: string, fields: LogFields = {}): void => {
      if (level === 'debug' && options.debug !== true) return;
      const time = new Date().toISOString();
      if (options.json === true) {
        write(
          JSON.stringify({ time, level, message, ...fields }, (_key, value: unknown) =>
            value instanceof Error ? value.message : value,
          ),
        );
        return;
      }
      const rest = Object.entries(fields)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => `${key}=${render(value)}`)
        .join(' ');
      write(`${time} ${level.padEnd(5)} ${message}${rest === '' ? '' : ` ${rest}`}`);
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}
