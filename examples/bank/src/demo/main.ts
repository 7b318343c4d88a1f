/**
 * `npm run demo`: runs the bank scenario on the runtime chosen by `--stack` or
 * `TRIBUTARY_RUNTIME=stack` (in-memory by default) and prints it.
 */
import { createRuntime, RuntimeUnavailableError, runtimeKindFrom } from '../runtime.js';
import { streamOutput } from './output.js';
import { runBankScenario } from './scenario.js';

async function main(): Promise<number> {
  const kind = runtimeKindFrom(process.argv.slice(2), process.env);
  let runtime;
  try {
    runtime = await createRuntime(kind, {
      readModels: true,
      log: (line) => process.stderr.write(`· ${line}\n`),
    });
  } catch (error) {
    if (error instanceof RuntimeUnavailableError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  try {
    await runBankScenario(runtime, streamOutput(process.stdout, process.env));
    return 0;
  } finally {
    await runtime.close();
  }
}

main().then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
