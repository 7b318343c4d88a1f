/** Where the demo writes its lines, and whether it may colour them. */
export interface ScenarioOutput {
  /** Writes one line (without a trailing newline). */
  write(line: string): void;
  /** Whether ANSI colours are wanted. */
  readonly color: boolean;
}

/** A {@link ScenarioOutput} that keeps the lines, for tests. */
export interface RecordingOutput extends ScenarioOutput {
  readonly lines: readonly string[];
}

/**
 * Writes to a stream. Colour only on a terminal and never when `NO_COLOR` is set
 * (https://no-color.org), so piped or logged output stays plain text.
 */
export function streamOutput(
  stream: NodeJS.WriteStream,
  env: Readonly<Record<string, string | undefined>>,
): ScenarioOutput {
  return {
    write: (line) => {
      stream.write(`${line}\n`);
    },
    color: stream.isTTY && env['NO_COLOR'] === undefined,
  };
}

/** Records lines in memory, uncoloured. */
export function recordingOutput(): RecordingOutput {
  const lines: string[] = [];
  return {
    lines,
    color: false,
    write: (line) => {
      lines.push(line);
    },
  };
}

const ANSI = {
  bold: '1',
  dim: '2',
  red: '31',
  green: '32',
  yellow: '33',
  cyan: '36',
} as const;

/** The styles the demo uses. */
export type Style = keyof typeof ANSI;

/** Returns `text` in `style` when the output wants colour, else unchanged. */
export function paint(output: ScenarioOutput, style: Style, text: string): string {
  return output.color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
}

/**
 * Formats rows as aligned columns. Widths are measured on the plain text, so colour codes
 * added afterwards by `decorate` do not break the alignment.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  decorate: (cell: string, column: number, row: number) => string = (cell) => cell,
): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[], row: number): string =>
    cells
      .map((cell, column) => {
        const padded = column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0);
        return row < 0 ? padded : decorate(padded, column, row);
      })
      .join('  ')
      .trimEnd();
  return [
    line(header, -1),
    widths.map((width) => '─'.repeat(width)).join('  '),
    ...rows.map((row, index) => line(row, index)),
  ];
}
