// Prints the plain closing line "N passed, N failed" (and skipped) from vitest's JSON report,
// so CI reads the outcome of the whole run in one line.
import { readFileSync } from 'node:fs';
import process from 'node:process';

const file = process.argv[2] ?? '.tributary/test-results.json';
try {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  const line = `${report.numPassedTests} passed, ${report.numFailedTests} failed`;
  process.stdout.write(`${skipped > 0 ? `${line}, ${skipped} skipped` : line}\n`);
} catch (error) {
  process.stdout.write(
    `no test report at ${file}: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
}
