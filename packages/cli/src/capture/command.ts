import { parseArgs } from 'node:util';
import { createOpenTelemetryTracer } from '@tributary/metrics';
import {
  createPostgresKafkaCapturer,
  crashPointsFromEnvironment,
  resolveCaptureConfig,
  type CaptureConfigInput,
} from '@tributary/outbox';
import { KAFKA_CLIENT_ENV, KAFKA_CLIENT_NAMES, kafkaClientName } from '../kafka-client.js';
import { commandLogger, LOG_USAGE } from '../logging.js';
import { captureKafkaClient } from './kafka-client.js';
import type { CliOutput } from '../output.js';
import { listenForStopSignals } from '../signals.js';
import { serveCaptureObservability } from '../observability/capture.js';
import {
  OBSERVABILITY_USAGE,
  observabilityOptions,
  observabilitySettingsFrom,
  type ObservabilityFileSettings,
} from '../observability/settings.js';
import {
  captureEncoderFrom,
  schemaOptions,
  schemaSettingsFrom,
  schemaUsage,
  type SchemaFileSettings,
} from '../schemas/settings.js';
import { assertKnownCaptureKeys } from './config-keys.js';
import {
  KAFKA_SECURITY_USAGE,
  kafkaSecurityFrom,
  kafkaSecurityOptions,
} from '../kafka-security.js';
import {
  captureConfigFromEnvironment,
  mergeCaptureConfigInputs,
  readCaptureConfigFile,
} from './environment.js';

/** Help text of `tributary capture`. */
export const CAPTURE_USAGE = `Options of capture (precedence: flags > environment > config file > defaults):
  --config <file>         JSON file with capture settings (see docs/capture.md)
  --name <name>           Capturer name: checkpoint key, transactional id, slot (default: default)
  --database-url <url>    PostgreSQL URL (default: env DATABASE_URL)
  --brokers <list>        Kafka brokers, comma-separated (default: env KAFKA_BROKERS)
  --kafka-client <name>   Kafka client library: ${KAFKA_CLIENT_NAMES.join(' or ')} (env ${KAFKA_CLIENT_ENV},
                          config kafka.client; default kafkajs)
${KAFKA_SECURITY_USAGE}
${LOG_USAGE}
${OBSERVABILITY_USAGE}
Registry encoding (off unless a declarations module is set; see docs/schemas.md):
${schemaUsage('capture')}
  Environment: DATABASE_URL, KAFKA_BROKERS, TRIBUTARY_CAPTURE_NAME, TRIBUTARY_TOPIC_PREFIX,
  TRIBUTARY_TOPIC_PARTITIONS, TRIBUTARY_SLOT, … (full list in docs/capture.md)
`;

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
      'kafka-client': { type: 'string' },
      ...kafkaSecurityOptions,
      'log-format': { type: 'string' },
      'log-level': { type: 'string' },
      ...observabilityOptions,
      ...schemaOptions('capture'),
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    output.out(CAPTURE_USAGE);
    return 0;
  }
  const env = hooks.env ?? process.env;
  const fileContent = values.config === undefined ? {} : await readCaptureConfigFile(values.config);
  if (values.config !== undefined) assertKnownCaptureKeys(fileContent, values.config);
  // The file's `metrics` and `schemas` objects configure the CLI's metrics server and
  // encoder, not the capturer.
  const {
    metrics: metricsFromFile,
    schemas: schemasFromFile,
    ...file
  } = fileContent as CaptureConfigInput & {
    readonly metrics?: ObservabilityFileSettings;
    readonly schemas?: SchemaFileSettings;
  };
  const schemaSettings = schemaSettingsFrom('capture', values, env, {
    ...(schemasFromFile === undefined ? {} : { settings: schemasFromFile }),
    ...(values.config === undefined ? {} : { path: values.config }),
  });
  const observability = observabilitySettingsFrom(values, env, metricsFromFile);
  // kafka.client chooses the library and kafka.tls/sasl configure it: the CLI's business,
  // not the capturer's.
  const {
    client: fileClient,
    tls: fileTls,
    sasl: fileSasl,
    ...fileKafka
  } = (file.kafka ?? {}) as Record<string, unknown>;
  const security = kafkaSecurityFrom(values, env, {
    ssl: fileKafka.ssl,
    tls: fileTls,
    sasl: fileSasl,
  });
  const fromFile: CaptureConfigInput =
    file.kafka === undefined ? file : { ...file, kafka: fileKafka };
  const client = kafkaClientName(
    { value: values['kafka-client'], source: '--kafka-client' },
    { value: env[KAFKA_CLIENT_ENV], source: KAFKA_CLIENT_ENV },
    { value: fileClient, source: `kafka.client in ${values.config ?? 'the config file'}` },
  );
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
  const logger = commandLogger(
    { level: values['log-level'], format: values['log-format'] },
    env,
    output.err,
  );
  const payloadEncoder = await captureEncoderFrom(schemaSettings);
  if (payloadEncoder === undefined && schemaSettings.registryUrl !== undefined) {
    // A registry alone cannot encode: the schemas come from the declarations module.
    logger.warn('a schema registry is set but no declarations module: publishing plain JSON', {
      hint: 'pass --schemas <module> (env TRIBUTARY_SCHEMAS_MODULE) to encode with the registry',
    });
  }
  const capturer = createPostgresKafkaCapturer({
    config,
    kafka: captureKafkaClient(config, logger, client, security),
    ...(payloadEncoder === undefined ? {} : { payloadEncoder }),
    logger,
    crashPoints: crashPointsFromEnvironment(env),
    // No-op until the process registers an OpenTelemetry SDK (e.g. `node --import`).
    tracer: createOpenTelemetryTracer(),
  });
  // Before the signal handlers: a port already taken fails the command with nothing to undo.
  const server =
    observability === undefined
      ? undefined
      : await serveCaptureObservability(observability, capturer, logger);
  const signals = hooks.stopSignal === undefined ? listenForStopSignals() : undefined;
  const stop = hooks.stopSignal ?? signals?.received ?? Promise.resolve();
  logger.info('starting capture', {
    name: config.name,
    slot: config.slot.name,
    publication: config.slot.publication,
    table: `${config.outbox.schema}.${config.outbox.eventsTable}`,
    topics: `${config.router.topicReplacement.replaceAll('${prefix}', config.router.topicPrefix)}`,
    checkpointTopic: config.topics.checkpointTopic,
    kafkaClient: client,
    encoding:
      schemaSettings.module === undefined
        ? 'json'
        : `registry ${schemaSettings.registryUrl ?? ''} (${schemaSettings.registration}, ${schemaSettings.subjectStrategy})`,
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
    signals?.dispose();
    await server?.close();
  }
}
