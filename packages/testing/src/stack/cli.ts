/**
 * `npm run stack:up | stack:down | stack:status | stack:prefetch`.
 *
 * Progress goes to stderr; stdout carries only the machine-readable result (the state JSON
 * and an `export` line), so `eval "$(npm run -s stack:up | tail -n 1)"` works.
 */
import { resolveStackConfig } from './config.js';
import { ensureKafkaDistribution, ensureRegistryDistribution } from './downloads.js';
import { brokersFlag, clusterStackOptions } from './cluster-cli.js';
import { isStackError } from './errors.js';
import { connectionOf, downStack, exportLine, stackStatus, upStack } from './launcher.js';
import { upSecureStack } from './secure.js';

const log = (message: string): void => {
  process.stderr.write(`[stack] ${message}\n`);
};

async function up(): Promise<number> {
  const brokers = brokersFlag(process.argv.slice(3));
  const controller = new AbortController();
  // Ctrl-C during a start must not leave detached servers behind.
  const abort = (): void => controller.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  // --secure: the secured stack (TLS, SASL, ACLs), beside the plain one (see secure.ts).
  const secure = process.argv.slice(3).includes('--secure');
  const result = secure
    ? await upSecureStack({ log, signal: controller.signal })
    : await upStack({
        log,
        signal: controller.signal,
        ...(brokers === undefined ? {} : clusterStackOptions(brokers)),
      });
  process.off('SIGINT', abort);
  process.off('SIGTERM', abort);
  const { state } = result;
  log(
    result.reused
      ? `a healthy stack is already running (${result.stateFile})`
      : `stack ready in ${state.startSeconds} s (${result.stateFile})`,
  );
  for (const [service, entry] of Object.entries(state.services)) {
    log(`${service}: pid ${entry.process.pid}, log ${entry.logFile}`);
  }
  process.stdout.write(`${JSON.stringify(state, null, 2)}\n${exportLine(connectionOf(state))}\n`);
  return 0;
}

async function down(): Promise<number> {
  const { stopped } = await downStack({ log });
  log(stopped.length === 0 ? 'no stack was running' : `stopped ${stopped.length} stack(s)`);
  return 0;
}

async function status(): Promise<number> {
  const statuses = await stackStatus();
  if (statuses.length === 0) {
    log('no stack recorded; run `npm run stack:up`');
    return 1;
  }
  let healthy = true;
  for (const { stateFile, state, health } of statuses) {
    process.stdout.write(
      `${state.name} stack (${stateFile}), started ${state.startedAt}, run dir ${state.runDir}\n`,
    );
    for (const entry of health) {
      healthy &&= entry.healthy;
      process.stdout.write(
        `  ${entry.healthy ? 'UP  ' : 'DOWN'} ${entry.service.padEnd(8)} ${entry.endpoint ?? ''}\n` +
          `       ${entry.detail}; pid ${entry.pid ?? '-'}${entry.processAlive === false ? ' (gone)' : ''}; log ${entry.logFile ?? '-'}\n`,
      );
    }
    process.stdout.write(`  ${exportLine(connectionOf(state))}\n`);
  }
  return healthy ? 0 : 1;
}

/** Fills the download cache without starting anything (CI pre-warm). */
async function prefetch(): Promise<number> {
  const config = resolveStackConfig();
  const [kafka, registry] = await Promise.all([
    ensureKafkaDistribution(config, log),
    ensureRegistryDistribution(config, log),
  ]);
  log(`cached: ${kafka.dir}, ${registry.runnerJar}`);
  return 0;
}

const commands: Record<string, () => Promise<number>> = { up, down, status, prefetch };
const command = commands[process.argv[2] ?? ''];
if (command === undefined) {
  process.stderr.write('usage: stack (up [--brokers <n>] | down | status | prefetch)\n');
  process.exitCode = 2;
} else {
  try {
    process.exitCode = await command();
  } catch (error) {
    log(isStackError(error) ? `${error.code}: ${error.message}` : String(error));
    if (!isStackError(error) && error instanceof Error && error.stack !== undefined)
      log(error.stack);
    process.exitCode = 1;
  }
}
