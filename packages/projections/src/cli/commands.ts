import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isTributaryError, type KafkaClient, type UpcasterChain } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import knexFactory, { type Knex } from 'knex';
import { resolveProjectionRuntimeConfig, type ProjectionRuntimeConfig } from '../config.js';
import { createConsoleLogger } from '../logger.js';
import { validateProjection, type AnyProjection } from '../projection.js';
import { rebuildProjection, type RebuildProgress } from '../rebuild.js';
import { createProjectionRuntime } from '../runtime/kafka-runtime.js';
import { faultPlansFromEnvironment } from '../fault-injection.js';
import { replayParkedEvents } from '../runtime/parked.js';
import { projectionStatus } from '../status.js';
import { PostgresProjectionStore } from '../store/postgres/postgres-projection-store.js';

/** Output streams of the CLI, replaceable in tests (same shape as the `tributary` CLI's). */
export interface ProjectionCliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Whether `err` is a terminal (progress bar redrawn in place). Default false. */
  readonly isTTY?: boolean;
}

/** Usage of the projection commands, appended to `tributary --help`. */
export const PROJECTION_USAGE = `Projection commands:
  project                 Run projections as a service (until SIGTERM/SIGINT)
  status                  Stored offset, end offset and lag per projection and partition; parked events
  rebuild <projection>    Rebuild a new projection version by replay, then swap it in atomically
  parked list             List parked events
  parked replay <projection> [--aggregate Type/id]  Replay parked events, in order, and unpark

Options of the projection commands:
  --module <path>         Module exporting \`projections\` (array) and optionally \`upcasters\`
  --projection <name>     Only this projection (project); repeatable
  --database-url <url>    Read-model PostgreSQL URL (default: env DATABASE_URL)
  --brokers <list>        Kafka brokers, comma-separated (default: env KAFKA_BROKERS)
  --topic-prefix <p>      Topics are <p>.<AggregateType> (default: events)
  --schema <name>         Schema of the runtime tables (default: tributary)
  --read-model-schema <n> Schema of read-model tables and views (default: public)
  --group-prefix <p>      Consumer groups <p>.<name>.v<version> (default: tributary.projection)
  --verify                rebuild: compare new and old tables before swapping
  --ignore-columns <list> rebuild --verify: columns left out of the comparison
  --no-swap               rebuild: stop when caught up, leave the old version active
  --json                  Machine-readable output (status, parked list) or JSON logs (project)
`;

const options = {
  module: { type: 'string' },
  projection: { type: 'string', multiple: true },
  'database-url': { type: 'string' },
  brokers: { type: 'string' },
  'topic-prefix': { type: 'string' },
  schema: { type: 'string' },
  'read-model-schema': { type: 'string' },
  'group-prefix': { type: 'string' },
  aggregate: { type: 'string' },
  verify: { type: 'boolean' },
  'ignore-columns': { type: 'string' },
  'no-swap': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(args: readonly string[]) {
  return parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
}

class UsageError extends Error {}

function runtimeConfig(values: Values): ProjectionRuntimeConfig {
  return resolveProjectionRuntimeConfig({
    ...(values['topic-prefix'] === undefined ? {} : { topicPrefix: values['topic-prefix'] }),
    ...(values.schema === undefined ? {} : { schema: values.schema }),
    ...(values['read-model-schema'] === undefined
      ? {}
      : { readModelSchema: values['read-model-schema'] }),
    ...(values['group-prefix'] === undefined ? {} : { groupIdPrefix: values['group-prefix'] }),
  });
}

interface LoadedModule {
  readonly projections: readonly AnyProjection[];
  readonly upcasters: UpcasterChain | undefined;
}

/** Loads the user's projections module (`export const projections = [...]`, optional `upcasters`). */
export async function loadProjectionsModule(path: string): Promise<LoadedModule> {
  const loaded = (await import(pathToFileURL(resolve(path)).href)) as {
    projections?: unknown;
    default?: { projections?: unknown; upcasters?: unknown };
    upcasters?: unknown;
  };
  const projections = loaded.projections ?? loaded.default?.projections;
  if (!Array.isArray(projections) || projections.length === 0) {
    throw new UsageError(`${path} must export a non-empty array named "projections"`);
  }
  for (const projection of projections as AnyProjection[]) validateProjection(projection);
  const upcasters = (loaded.upcasters ?? loaded.default?.upcasters) as UpcasterChain | undefined;
  return { projections: projections as AnyProjection[], upcasters };
}

function connections(values: Values): { knex: Knex; kafka: KafkaClient } {
  const databaseUrl = values['database-url'] ?? process.env['DATABASE_URL'];
  if (databaseUrl === undefined || databaseUrl === '')
    throw new UsageError('no database: pass --database-url or set DATABASE_URL');
  const brokers = values.brokers ?? process.env['KAFKA_BROKERS'];
  if (brokers === undefined || brokers === '')
    throw new UsageError('no Kafka: pass --brokers or set KAFKA_BROKERS');
  return {
    knex: knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 10 } }),
    kafka: createKafkajsClient({ clientId: 'tributary-cli', brokers: brokers.split(',') }),
  };
}

/**
 * Runs one projection command and returns its exit code: 0 success, 1 runtime failure,
 * 2 usage error. The `tributary` CLI dispatches `project`, `status`, `rebuild` and `parked` here.
 */
export async function projectionCommand(
  name: string,
  args: readonly string[],
  output: ProjectionCliOutput,
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
        return await projectCommand(values, output);
      case 'status':
        return await statusCommand(values, output);
      case 'rebuild':
        return await rebuildCommand(values, positionals, output);
      case 'parked':
        return await parkedCommand(values, positionals, output);
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

async function projectCommand(values: Values, output: ProjectionCliOutput): Promise<number> {
  if (values.module === undefined)
    throw new UsageError('pass --module <path> (exports `projections`)');
  const loaded = await loadProjectionsModule(values.module);
  const selected =
    values.projection === undefined
      ? loaded.projections
      : loaded.projections.filter((projection) => values.projection?.includes(projection.name));
  if (selected.length === 0)
    throw new UsageError(`no projection named ${values.projection?.join(', ')}`);
  const { knex, kafka } = connections(values);
  const logger = createConsoleLogger({ json: values.json === true, write: output.err });
  const runtime = createProjectionRuntime({
    kafka,
    knex,
    projections: selected,
    config: runtimeConfig(values),
    ...(loaded.upcasters === undefined ? {} : { upcasters: loaded.upcasters }),
    logger,
    faults: faultPlansFromEnvironment(),
  });
  const onSignal = (signal: string): void => {
    logger.info('stopping', { signal });
    void runtime.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await runtime.start();
    logger.info('projections running', {
      projections: selected.map((p) => `${p.name}@v${p.version}`).join(','),
    });
    await runtime.stopped;
    logger.info('stopped');
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await knex.destroy();
  }
}

async function statusCommand(values: Values, output: ProjectionCliOutput): Promise<number> {
  const loaded =
    values.module === undefined ? undefined : await loadProjectionsModule(values.module);
  const { knex, kafka } = connections(values);
  try {
    const store = new PostgresProjectionStore(knex, runtimeConfig(values));
    const statuses = await projectionStatus(store, kafka, loaded?.projections ?? []);
    if (values.json === true) {
      output.out(JSON.stringify({ projections: statuses }, null, 2));
      return 0;
    }
    if (statuses.length === 0) output.out('no projections registered');
    for (const status of statuses) {
      output.out(
        `${status.projection} v${status.version} (${status.status})  lag ${status.lag}  parked ${status.parkedEvents} event(s) in ${status.parkedAggregates} aggregate(s)`,
      );
      output.out(
        `  ${'topic/partition'.padEnd(40)} ${'stored'.padStart(10)} ${'end'.padStart(10)} ${'lag'.padStart(8)}`,
      );
      for (const p of status.partitions) {
        output.out(
          `  ${`${p.topic}/${p.partition}`.padEnd(40)} ${String(p.storedOffset ?? '-').padStart(10)} ${String(p.endOffset).padStart(10)} ${String(p.lag).padStart(8)}`,
        );
      }
    }
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
  positionals: readonly string[],
  output: ProjectionCliOutput,
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
  const { knex, kafka } = connections(values);
  let lastLine = 0;
  try {
    const result = await rebuildProjection({
      kafka,
      knex,
      projection,
      config: runtimeConfig(values),
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
  positionals: readonly string[],
  output: ProjectionCliOutput,
): Promise<number> {
  const [action, projectionName] = positionals;
  if (action === 'list') {
    const { knex } = connections({ ...values, brokers: values.brokers ?? 'unused' });
    try {
      const store = new PostgresProjectionStore(knex, runtimeConfig(values));
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
    const { knex } = connections({ ...values, brokers: values.brokers ?? 'unused' });
    try {
      const store = new PostgresProjectionStore(knex, runtimeConfig(values));
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
