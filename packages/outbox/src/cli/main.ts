import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isTributaryError } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import { createPostgresKafkaCapturer } from '../capture/postgres-kafka-capturer.js';
import {
  captureConfigFromEnvironment,
  mergeCaptureConfigInputs,
  resolveCaptureConfig,
  type CaptureConfigInput,
} from '../capture/config.js';
import { crashPointsFromEnvironment } from '../capture/crash-points.js';
import { CaptureError } from '../capture/errors.js';
import { createConsoleLogger, type LogLevel } from '../capture/logger.js';
import { migrateOutbox } from '../migrations.js';
import { schemasCommand } from '../schemas/cli.js';

const USAGE = `Usage: tributary <command> [options]

Commands:
  migrate     Create or upgrade the outbox tables (idempotent).
  capture     Stream the outbox to Kafka (WAL capture, exactly once) until SIGTERM.
  schemas     check | register event schemas against the registry (tributary schemas --help).
  project | status | rebuild | parked
              Projection runtime commands, from @tributary/projections (tributary project --help).

Options of migrate:
  --database-url <url>    PostgreSQL URL (default: env DATABASE_URL)
  --schema <name>         Schema of the outbox tables (default: tributary)
  --events-table <name>   Outbox table (default: events)
  --snapshots-table <name> Snapshot table (default: snapshots)
  -h, --help              Show this help

Options of capture (precedence: flags > environment > config file > defaults):
  --config <file>         JSON file with capture settings (see docs/capture.md)
  --name <name>           Capturer name: checkpoint key, transactional id, slot (default: default)
  --database-url <url>    PostgreSQL URL (default: env DATABASE_URL)
  --brokers <list>        Kafka brokers, comma-separated (default: env KAFKA_BROKERS)
  --log-format <fmt>      text or json (default: env TRIBUTARY_LOG_FORMAT or text)
  --log-level <level>     debug, info, warn or error (default: env TRIBUTARY_LOG_LEVEL or info)
  Environment: DATABASE_URL, KAFKA_BROKERS, TRIBUTARY_CAPTURE_NAME, TRIBUTARY_TOPIC_PREFIX,
  TRIBUTARY_TOPIC_PARTITIONS, TRIBUTARY_SLOT, … (full list in docs/capture.md)
`;

/** Output streams of the CLI, replaceable in tests. */
export interface CliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const consoleOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs the CLI and returns its exit code: 0 on success, 1 on a runtime failure, 2 on a
 * usage error. Errors are printed as one clear line with their code, never as a stack.
 */
export async function main(
  argv: readonly string[],
  output: CliOutput = consoleOutput,
): Promise<number> {
  const [commandName, ...rest] = argv;
  if (commandName === undefined || commandName === '-h' || commandName === '--help') {
    output.out(USAGE);
    return commandName === undefined ? 2 : 0;
  }
  try {
    switch (commandName) {
      case 'migrate':
        return await migrateCommand(rest, output);
      case 'capture':
        return await captureCommand(rest, output);
      case 'schemas':
        return await schemasCommand(rest, output);
      case 'project':
      case 'status':
      case 'rebuild':
      case 'parked':
        return await projectionsCommand(commandName, rest, output);
      default:
        output.err(`tributary: unknown command "${commandName}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    const code = isTributaryError(error) ? ` [${error.code}]` : '';
    output.err(
      `tributary ${commandName}: ${error instanceof Error ? error.message : String(error)}${code}`,
    );
    return 1;
  }
}

async function migrateCommand(args: readonly string[], output: CliOutput): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      'database-url': { type: 'string' },
      schema: { type: 'string' },
      'events-table': { type: 'string' },
      'snapshots-table': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    output.out(USAGE);
    return 0;
  }
  const connectionString = values['database-url'] ?? process.env.DATABASE_URL;
  if (connectionString === undefined || connectionString === '') {
    output.err('tributary migrate: no database. Pass --database-url or set DATABASE_URL.');
    return 2;
  }
  const config = {
    ...(values.schema === undefined ? {} : { schema: values.schema }),
    ...(values['events-table'] === undefined ? {} : { eventsTable: values['events-table'] }),
    ...(values['snapshots-table'] === undefined
      ? {}
      : { snapshotsTable: values['snapshots-table'] }),
  };
  const { applied } = await migrateOutbox({ connectionString, config });
  output.out(
    applied.length === 0
      ? 'tributary migrate: already up to date'
      : `tributary migrate: applied ${applied.join(', ')}`,
  );
  return 0;
}

/** Options of {@link captureCommand} that tests replace. */
export interface CaptureCommandHooks {
  /** Environment to read settings from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Resolves when the command should stop gracefully. Default: SIGTERM or SIGINT. */
  readonly stopSignal?: Promise<unknown>;
}

/**
 * `tributary capture`: runs the WAL capturer until SIGTERM/SIGINT (graceful: the Kafka
 * transaction in flight is finished and confirmed, exit 0) or a fatal error (exit 1).
 */
export async function captureCommand(
  args: readonly string[],
  output: CliOutput,
  hooks: CaptureCommandHooks = {},
): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      config: { type: 'string' },
      name: { type: 'string' },
      'database-url': { type: 'string' },
      brokers: { type: 'string' },
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    output.out(USAGE);
    return 0;
  }
  const env = hooks.env ?? process.env;
  const fromFile: CaptureConfigInput =
    values.config === undefined ? {} : await readConfigFile(values.config);
  const fromFlags: CaptureConfigInput = {
    ...(values.name === undefined ? {} : { name: values.name }),
    ...(values['database-url'] === undefined ? {} : { databaseUrl: values['database-url'] }),
    ...(values.brokers === undefined
      ? {}
      : { kafka: { brokers: values.brokers.split(',').map((broker) => broker.trim()) } }),
  };
  const config = resolveCaptureConfig(
    mergeCaptureConfigInputs(fromFile, captureConfigFromEnvironment(env), fromFlags),
  );
  const format = values['log-format'] ?? env.TRIBUTARY_LOG_FORMAT ?? 'text';
  const level = values['log-level'] ?? env.TRIBUTARY_LOG_LEVEL ?? 'info';
  if (format !== 'text' && format !== 'json') {
    output.err(`tributary capture: --log-format must be text or json, not ${format}`);
    return 2;
  }
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    output.err(`tributary capture: --log-level must be debug, info, warn or error, not ${level}`);
    return 2;
  }
  const logger = createConsoleLogger({ format, level: level as LogLevel, write: output.err });
  const capturer = createPostgresKafkaCapturer({
    config,
    kafka: createKafkajsClient({
      brokers: config.kafka.brokers,
      clientId: config.kafka.clientId,
      ssl: config.kafka.ssl,
      fastRecordEncoder: config.kafka.fastRecordEncoder,
      logger,
    }),
    logger,
    crashPoints: crashPointsFromEnvironment(env),
  });
  let stop: Promise<unknown> | undefined = hooks.stopSignal;
  let removeHandlers = (): void => undefined;
  if (stop === undefined) {
    stop = new Promise<NodeJS.Signals>((resolve) => {
      const onSignal = (signal: NodeJS.Signals): void => resolve(signal);
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      removeHandlers = () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      };
    });
  }
  logger.info('starting capture', {
    name: config.name,
    slot: config.slot.name,
    publication: config.slot.publication,
    table: `${config.outbox.schema}.${config.outbox.eventsTable}`,
    topics: `${config.router.topicReplacement.replaceAll('${prefix}', config.router.topicPrefix)}`,
    checkpointTopic: config.topics.checkpointTopic,
    pid: process.pid,
  });
  const running = capturer.run();
  void stop.then(async (signal) => {
    logger.info('stopping: finishing the Kafka transaction in flight', {
      signal: typeof signal === 'string' ? signal : 'stop',
    });
    await capturer.stop();
  });
  try {
    await running;
    return 0;
  } finally {
    removeHandlers();
  }
}

async function readConfigFile(path: string): Promise<CaptureConfigInput> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new CaptureError(
      'CAPTURE_CONFIG_INVALID',
      `Cannot read config file ${path}: ${String(error)}`,
    );
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error('not a JSON object');
    }
    return parsed;
  } catch (error) {
    throw new CaptureError(
      'CAPTURE_CONFIG_INVALID',
      `Config file ${path} is not a JSON object: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** The part of `@tributary/projections` the CLI uses (kept structural: no build-time dependency). */
interface ProjectionsCli {
  projectionCommand(
    name: string,
    args: readonly string[],
    output: CliOutput & { readonly isTTY?: boolean },
  ): Promise<number>;
}

/**
 * Projection commands live in `@tributary/projections`, loaded on demand: the outbox must
 * not depend on the read side, and a write-side-only install works without it.
 */
async function projectionsCommand(
  name: string,
  args: readonly string[],
  output: CliOutput,
): Promise<number> {
  const specifier = '@tributary/projections';
  let projections: ProjectionsCli;
  try {
    projections = (await import(specifier)) as ProjectionsCli;
  } catch (error) {
    output.err(
      `tributary ${name}: needs the @tributary/projections package (npm install @tributary/projections): ${error instanceof Error ? error.message : String(error)}`,
    );
    return 2;
  }
  return projections.projectionCommand(name, args, { ...output, isTTY: process.stderr.isTTY });
}
