/**
 * `tributary project | status | rebuild | parked`: the projection runtime and its
 * operations, wired with the default adapters (the chosen Kafka client, PostgreSQL through
 * knex).
 */
import { createOpenTelemetryTracer } from '@tributary/metrics';
import { parseArgs } from 'node:util';
import { isTributaryError, type KafkaClient, type Logger } from '@tributary/core';
import {
  createProjectionRuntime,
  DEFAULT_PROJECTION_QUERY_TIMEOUT_MS,
  faultPlansFromEnvironment,
  PostgresProjectionStore,
  postgresProjectionKnexConfig,
  resolveProjectionRuntimeConfig,
  projectionStatus,
  rebuildProjection,
  replayParkedEvents,
  type RebuildProgress,
} from '@tributary/projections';
import knexFactory, { type Knex } from 'knex';
import {
  createKafkaClient,
  KAFKA_CLIENT_ENV,
  KAFKA_CLIENT_NAMES,
  kafkaClientName,
} from '../kafka-client.js';
import {
  KAFKA_SECURITY_USAGE,
  kafkaSecurityFrom,
  kafkaSecurityOptions,
} from '../kafka-security.js';
import { commandLogger, LOG_USAGE } from '../logging.js';
import { UsageError, type CliOutput } from '../output.js';
import { listenForStopSignals } from '../signals.js';
import { serveProjectionObservability } from '../observability/projections.js';
import type { ObservabilityServer } from '../observability/server.js';
import {
  OBSERVABILITY_USAGE,
  observabilityOptions,
  observabilitySettingsFrom,
  READY_MAX_LAG_USAGE,
} from '../observability/settings.js';
import { loadProjectionsModule } from './module.js';
import { formatPipelineStatus } from '../status/format.js';
import { pipelineStatus } from '../status/pipeline.js';
import { pipelineSourceFrom, STATUS_USAGE, statusOptions } from '../status/settings.js';
import {
  projectionDecoderFrom,
  schemaOptions,
  schemaSettingsFrom,
  schemaUsage,
} from '../schemas/settings.js';
import {
  projectionRuntimeConfigFrom,
  projectionRuntimeOptions,
  projectionRuntimeUsage,
} from './settings.js';

/** Usage of the projection commands, part of `tributary --help`. */
export const PROJECTION_USAGE = `Projection commands:
  project                 Run projections as a service (until SIGTERM/SIGINT)
  status                  The pipeline: replication slot, capture checkpoint, topic end offsets, and per
                          projection and partition the stored offset, end offset and lag; parked events
  rebuild <projection>    Rebuild a new projection version by replay, then swap it in atomically
  parked list             List parked events
  parked replay <projection> [--aggregate Type/id]  Replay parked events, in order, and unpark

Options of the projection commands (flags win over the environment):
  --module <path>         Module exporting \`projections\` (array) and optionally \`upcasters\`
                          (.js, .mjs or .ts; it may import @tributary/* by bare name)
  --projection <name>     Only this projection (project); repeatable
  --database-url <url>    Read-model PostgreSQL URL (env DATABASE_URL)
  --pool-size <n>         Most database connections (env TRIBUTARY_PROJECTION_POOL_SIZE; default 10)
  --query-timeout-ms <n>  A query unanswered this long fails and its connection is discarded
                          (env TRIBUTARY_PROJECTION_QUERY_TIMEOUT_MS; default 60000)
  --brokers <list>        Kafka brokers, comma-separated (env KAFKA_BROKERS)
  --client-id <id>        Kafka client id (env KAFKA_CLIENT_ID; default tributary-cli)
  --kafka-client <name>   Kafka client library: ${KAFKA_CLIENT_NAMES.join(' or ')} (env ${KAFKA_CLIENT_ENV};
                          default kafkajs)
  Kafka TLS and SASL (the same settings as capture; see docs/operations.md):
${KAFKA_SECURITY_USAGE}
  --verify                rebuild: compare new and old tables at the same offsets before swapping
  --ignore-columns <list> rebuild --verify: columns left out of the comparison
  --no-swap               rebuild: stop when caught up, leave the old version active
  --json                  Machine-readable output (status, parked list) or JSON logs (project)
${LOG_USAGE}
${OBSERVABILITY_USAGE}
${READY_MAX_LAG_USAGE}
${STATUS_USAGE}

Registry decoding (project, rebuild; records in the registry wire format are decoded with the
schema their id names, others as JSON; see docs/schemas.md):
${schemaUsage('project')}

Runtime settings (project, status, rebuild, parked):
${projectionRuntimeUsage()}
`;

const options = {
  module: { type: 'string' },
  projection: { type: 'string', multiple: true },
  'database-url': { type: 'string' },
  'pool-size': { type: 'string' },
  'query-timeout-ms': { type: 'string' },
  brokers: { type: 'string' },
  'client-id': { type: 'string' },
  'kafka-client': { type: 'string' },
  aggregate: { type: 'string' },
  verify: { type: 'boolean' },
  'ignore-columns': { type: 'string' },
  'no-swap': { type: 'boolean' },
  json: { type: 'boolean' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  ...observabilityOptions,
  ...statusOptions,
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'] & Readonly<Record<string, unknown>>;

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: {
      ...options,
      ...projectionRuntimeOptions,
      ...schemaOptions('project'),
      ...kafkaSecurityOptions,
    },
    strict: true,
    allowPositionals: true,
  });
}

type Environment = Readonly<Record<string, string | undefined>>;

/** A flag, else its environment variable; empty counts as unset. */
const setting = (flag: string | undefined, env: string | undefined): string | undefined => {
  const value = flag ?? env;
  return value === '' ? undefined : value;
};

function connections(
  values: Values,
  env: Environment,
  needs: { readonly kafka: boolean; readonly logger?: Logger },
): { knex: Knex; kafka: KafkaClient | undefined } {
  const databaseUrl = setting(values['database-url'], env.DATABASE_URL);
  if (databaseUrl === undefined)
    throw new UsageError('no database: pass --database-url or set DATABASE_URL');
  const brokers = setting(values.brokers, env.KAFKA_BROKERS);
  if (needs.kafka && brokers === undefined)
    throw new UsageError('no Kafka: pass --brokers or set KAFKA_BROKERS');
  const poolSize = Number(setting(values['pool-size'], env.TRIBUTARY_PROJECTION_POOL_SIZE) ?? 10);
  if (!Number.isSafeInteger(poolSize) || poolSize < 1)
    throw new UsageError('--pool-size (TRIBUTARY_PROJECTION_POOL_SIZE) must be a positive integer');
  const queryTimeoutMs = Number(
    setting(values['query-timeout-ms'], env.TRIBUTARY_PROJECTION_QUERY_TIMEOUT_MS) ??
      DEFAULT_PROJECTION_QUERY_TIMEOUT_MS,
  );
  if (!Number.isSafeInteger(queryTimeoutMs) || queryTimeoutMs < 1)
    throw new UsageError(
      '--query-timeout-ms (TRIBUTARY_PROJECTION_QUERY_TIMEOUT_MS) must be a positive integer',
    );
  return {
    knex: knexFactory(postgresProjectionKnexConfig({ databaseUrl, poolSize, queryTimeoutMs })),
    kafka:
      needs.kafka && brokers !== undefined
        ? createKafkaClient(
            kafkaClientName(
              { value: values['kafka-client'], source: '--kafka-client' },
              { value: env[KAFKA_CLIENT_ENV], source: KAFKA_CLIENT_ENV },
            ),
            {
              clientId: setting(values['client-id'], env.KAFKA_CLIENT_ID) ?? 'tributary-cli',
              brokers: brokers.split(',').map((broker) => broker.trim()),
              security: kafkaSecurityFrom(values, env),
              // The client's own warnings (a replaced consumer, a lost coordinator) belong
              // in the process log; without a logger they are dropped.
              ...(needs.logger === undefined ? {} : { logger: needs.logger }),
            },
          )
        : undefined,
  };
}

/** Both connections, for the commands that read Kafka. */
function kafkaConnections(
  values: Values,
  env: Environment,
  logger?: Logger,
): { knex: Knex; kafka: KafkaClient } {
  const { knex, kafka } = connections(values, env, {
    kafka: true,
    ...(logger === undefined ? {} : { logger }),
  });
  if (kafka === undefined) throw new UsageError('no Kafka: pass --brokers or set KAFKA_BROKERS');
  return { knex, kafka };
}

/**
 * Runs one projection command and returns its exit code: 0 success, 1 runtime failure,
 * 2 usage error. The `tributary` CLI dispatches `project`, `status`, `rebuild` and `parked` here.
 */
export async function projectionCommand(
  name: string,
  args: readonly string[],
  output: CliOutput,
  env: Environment = process.env,
): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parse(args));
  } catch (error) {
    output.err(
      `tributary ${name}: ${error instanceof Error ? error.message : String(error)}\n\n${PROJECTION_USAGE}`,
    );
    return 2;
  }
  if (values.help === true) {
    output.out(PROJECTION_USAGE);
    return 0;
  }
  try {
    switch (name) {
      case 'project':
        return await projectCommand(values, env, output);
      case 'status':
        return await statusCommand(values, env, output);
      case 'rebuild':
        return await rebuildCommand(values, env, positionals, output);
      case 'parked':
        return await parkedCommand(values, env, positionals, output);
      default:
        output.err(`tributary: unknown projection command "${name}"`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`tributary ${name}: ${error.message}`);
      return 2;
    }
    const code = isTributaryError(error) ? ` [${error.code}]` : '';
    output.err(
      `tributary ${name}: ${error instanceof Error ? error.message : String(error)}${code}`,
    );
    return 1;
  }
}

async function projectCommand(
  values: Values,
  env: Environment,
  output: CliOutput,
): Promise<number> {
  if (values.module === undefined)
    throw new UsageError('pass --module <path> (exports `projections`)');
  const loaded = await loadProjectionsModule(values.module);
  const selected =
    values.projection === undefined
      ? loaded.projections
      : loaded.projections.filter((projection) => values.projection?.includes(projection.name));
  if (selected.length === 0)
    throw new UsageError(`no projection named ${values.projection?.join(', ')}`);
  const logger = commandLogger(
    {
      level: values['log-level'],
      format: values['log-format'] ?? (values.json === true ? 'json' : undefined),
    },
    env,
    output.err,
  );
  const observability = observabilitySettingsFrom(values, env);
  const valueDecoder = projectionDecoderFrom(schemaSettingsFrom('project', values, env));
  const { knex, kafka } = kafkaConnections(values, env, logger);
  const runtime = createProjectionRuntime({
    kafka,
    knex,
    projections: selected,
    config: projectionRuntimeConfigFrom(values, env),
    ...(valueDecoder === undefined ? {} : { valueDecoder }),
    ...(loaded.upcasters === undefined ? {} : { upcasters: loaded.upcasters }),
    logger,
    faults: faultPlansFromEnvironment(env),
    // No-op until the process registers an OpenTelemetry SDK (e.g. `node --import`).
    tracer: createOpenTelemetryTracer(),
  });
  const signals = listenForStopSignals((signal) => {
    logger.info('stopping', { signal });
    void runtime.stop();
  });
  let server: ObservabilityServer | undefined;
  try {
    if (observability !== undefined) {
      const pipelineSource = pipelineSourceFrom(
        values,
        env,
        resolveProjectionRuntimeConfig(projectionRuntimeConfigFrom(values, env)).topicPrefix,
      );
      server = await serveProjectionObservability(observability, {
        runtime,
        kafka,
        projections: selected,
        logger,
        // The status page: the slot, capture and topics as `tributary status` reads them.
        pipeline: (projections) => pipelineStatus({ ...pipelineSource, kafka, projections }),
      });
    }
    await runtime.start();
    logger.info('projections running', {
      projections: selected.map((p) => `${p.name}@v${p.version}`).join(','),
    });
    await runtime.stopped;
    logger.info('stopped');
    return 0;
  } finally {
    signals.dispose();
    await server?.close();
    // After PROJECTION_STALLED a handler may never give its connection back, and knex's
    // destroy() waits for every connection in use: the process exits anyway (the server
    // ends the session when the socket closes).
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      knex.destroy(),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 5_000);
      }),
    ]);
    clearTimeout(timer);
  }
}

async function statusCommand(values: Values, env: Environment, output: CliOutput): Promise<number> {
  const loaded =
    values.module === undefined ? undefined : await loadProjectionsModule(values.module);
  const { knex, kafka } = kafkaConnections(values, env);
  try {
    const config = resolveProjectionRuntimeConfig(projectionRuntimeConfigFrom(values, env));
    const store = new PostgresProjectionStore(knex, config);
    const projections = await projectionStatus(store, kafka, loaded?.projections ?? []);
    const status = await pipelineStatus({
      ...pipelineSourceFrom(values, env, config.topicPrefix),
      kafka,
      projections,
    });
    output.out(
      values.json === true ? JSON.stringify(status, null, 2) : formatPipelineStatus(status),
    );
    return 0;
  } finally {
    await knex.destroy();
  }
}

/** `[#####-----]  45%  12,345/27,000  3,456 ev/s  ETA 4s` */
export function formatProgress(progress: RebuildProgress, width = 30): string {
  const ratio = progress.target === 0 ? 1 : Math.min(1, progress.applied / progress.target);
  const filled = Math.round(ratio * width);
  const eta = progress.etaSeconds === undefined ? '?' : `${Math.ceil(progress.etaSeconds)}s`;
  const number = (n: number): string => Math.round(n).toLocaleString('en-US');
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%  ${number(progress.applied)}/${number(progress.target)}  ${number(progress.eventsPerSecond)} ev/s  ETA ${eta}`;
}

async function rebuildCommand(
  values: Values,
  env: Environment,
  positionals: readonly string[],
  output: CliOutput,
): Promise<number> {
  const [projectionName] = positionals;
  if (projectionName === undefined)
    throw new UsageError('name the projection: tributary rebuild <projection> --module <path>');
  if (values.module === undefined)
    throw new UsageError('pass --module <path> (exports `projections`)');
  const loaded = await loadProjectionsModule(values.module);
  const projection = loaded.projections.find((p) => p.name === projectionName);
  if (projection === undefined)
    throw new UsageError(`${values.module} has no projection "${projectionName}"`);
  const valueDecoder = projectionDecoderFrom(schemaSettingsFrom('project', values, env));
  const { knex, kafka } = kafkaConnections(values, env);
  let lastLine = 0;
  try {
    const result = await rebuildProjection({
      kafka,
      knex,
      projection,
      config: projectionRuntimeConfigFrom(values, env),
      ...(valueDecoder === undefined ? {} : { valueDecoder }),
      ...(loaded.upcasters === undefined ? {} : { upcasters: loaded.upcasters }),
      verify: values.verify === true,
      ignoreColumns: values['ignore-columns']?.split(',').filter((c) => c !== '') ?? [],
      swap: values['no-swap'] !== true,
      onProgress: (progress) => {
        if (output.isTTY === true) {
          output.err(`\u001b[1A\u001b[2K${formatProgress(progress)}`);
        } else if (Date.now() - lastLine > 2_000 || progress.applied >= progress.target) {
          lastLine = Date.now();
          output.err(formatProgress(progress));
        }
      },
    });
    const verified =
      result.differences === undefined
        ? ''
        : `, verified equal to the previous version (${Object.keys(result.differences).join(', ')})`;
    output.out(
      `tributary rebuild: ${projection.name} v${projection.version} caught up: ${result.applied} offsets in ${result.seconds.toFixed(1)} s${verified}; ` +
        (values['no-swap'] === true
          ? 'not swapped (--no-swap)'
          : result.retiredVersion === undefined
            ? 'now active'
            : `swapped in, v${result.retiredVersion} retired and its tables dropped`),
    );
    return 0;
  } finally {
    await knex.destroy();
  }
}

async function parkedCommand(
  values: Values,
  env: Environment,
  positionals: readonly string[],
  output: CliOutput,
): Promise<number> {
  const [action, projectionName] = positionals;
  if (action === 'list') {
    const { knex } = connections(values, env, { kafka: false });
    try {
      const store = new PostgresProjectionStore(
        knex,
        resolveProjectionRuntimeConfig(projectionRuntimeConfigFrom(values, env)),
      );
      await store.ensureSchema();
      const rows = await store.parkedEvents(
        projectionName === undefined ? {} : { projection: projectionName },
      );
      if (values.json === true) {
        output.out(JSON.stringify({ parked: rows }, null, 2));
      } else if (rows.length === 0) {
        output.out('no parked events');
      } else {
        for (const row of rows) {
          output.out(
            `${row.projection} v${row.version}  ${row.aggregateType}/${row.aggregateId} v${row.aggregateVersion}  ${row.eventType}  ${row.topic}/${row.partition}@${row.offset}  ${row.reason}${row.error === null ? '' : `: ${row.error}`}`,
          );
        }
      }
      return 0;
    } finally {
      await knex.destroy();
    }
  }
  if (action === 'replay') {
    if (projectionName === undefined)
      throw new UsageError('tributary parked replay <projection> --module <path>');
    if (values.module === undefined)
      throw new UsageError('pass --module <path> (exports `projections`)');
    const loaded = await loadProjectionsModule(values.module);
    const projection = loaded.projections.find((p) => p.name === projectionName);
    if (projection === undefined)
      throw new UsageError(`${values.module} has no projection "${projectionName}"`);
    let aggregate: { aggregateType: string; aggregateId: string } | undefined;
    if (values.aggregate !== undefined) {
      const slash = values.aggregate.indexOf('/');
      if (slash < 1) throw new UsageError('--aggregate takes Type/id');
      aggregate = {
        aggregateType: values.aggregate.slice(0, slash),
        aggregateId: values.aggregate.slice(slash + 1),
      };
    }
    const { knex } = connections(values, env, { kafka: false });
    try {
      const store = new PostgresProjectionStore(
        knex,
        resolveProjectionRuntimeConfig(projectionRuntimeConfigFrom(values, env)),
      );
      await store.ensureSchema();
      const outcomes = await replayParkedEvents({
        store,
        projection,
        ...(loaded.upcasters === undefined ? {} : { upcasters: loaded.upcasters }),
        ...(aggregate === undefined ? {} : { aggregate }),
      });
      let failed = 0;
      for (const outcome of outcomes) {
        if (outcome.error !== undefined) failed += 1;
        output.out(
          `${outcome.aggregateType}/${outcome.aggregateId}: ${outcome.error === undefined ? `replayed ${outcome.applied}, dropped ${outcome.skipped} repeat(s), unparked` : `still failing, left parked: ${outcome.error}`}`,
        );
      }
      if (outcomes.length === 0) output.out('no parked events');
      return failed === 0 ? 0 : 1;
    } finally {
      await knex.destroy();
    }
  }
  throw new UsageError('tributary parked list | tributary parked replay <projection>');
}
