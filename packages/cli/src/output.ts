/** Output streams of the CLI, replaceable in tests. */
export interface CliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Whether `err` is a terminal (a progress bar is redrawn in place). Default false. */
  readonly isTTY?: boolean;
}

/** stdout and stderr of this process. */
export const consoleOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  isTTY: process.stderr.isTTY,
};

/** A wrong invocation: printed with the command name, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
