/**
 * `tributary verify`: drift between the outbox, Kafka and the read models. Reads the outbox
 * window, every committed record of the topics its aggregate types route to (outside any
 * consumer group, aborted transactions left out), and each active projection's stored
 * aggregate versions; prints the differences and exits 1 when there is any. Read-only.
 */
import { parseArgs } from 'node:util';
import {
  EventHeaders,
  headerValue,
  quoteIdentifier,
  topicFor,
  type KafkaClient,
} from '@tributary/core';
import type { OutboxConfig } from '@tributary/outbox';
import {
  resolveProjectionRuntimeConfig,
  type ProjectionRuntimeConfig,
} from '@tributary/projections';
import knexFactory, { type Knex } from 'knex';
import {
  createKafkaClient,
  KAFKA_CLIENT_ENV,
  KAFKA_CLIENT_NAMES,
  kafkaClientName,
} from '../kafka-client.js';
import { UsageError, type CliOutput } from '../output.js';
import { projectionRuntimeConfigFrom, projectionRuntimeOptions } from '../projections/settings.js';
import { pipelineSourceFrom, statusOptions } from '../status/settings.js';
import {
  compareProjection,
  compareWithKafka,
  formatVerifyReport,
  type KafkaEventRef,
  type OutboxEventRef,
  type ProjectionVersions,
  type VerifyReport,
  type VerifyWindow,
} from './compare.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** Help of `tributary verify`. */
export const VERIFY_USAGE = `Usage: tributary verify [options]

Checks, for a window of the outbox (default: everything), that every event is in Kafka
exactly once (by event id, read_committed) and that every active projection's
per-aggregate versions match the outbox. Prints the differences; exit code 1 on any.

  --from <time>           window start, ISO 8601, on the events' occurred-at (inclusive)
  --to <time>             window end (exclusive); events newer than the capture lag
                          show as missing, so leave a margin on a busy pipeline
  --aggregate-type <type> only this aggregate type; repeatable
  --database-url <url>    read-model PostgreSQL (env DATABASE_URL)
  --source-database-url   the outbox database (env TRIBUTARY_SOURCE_DATABASE_URL; default
                          the --database-url); TRIBUTARY_OUTBOX_* as for capture
  --brokers <list>        Kafka brokers (env KAFKA_BROKERS)
  --kafka-client <name>   ${KAFKA_CLIENT_NAMES.join(' or ')} (env ${KAFKA_CLIENT_ENV}; default kafkajs)
  --json                  the report as JSON
  Topic prefix and runtime tables: the projection runtime settings (see tributary --help).`;

const options = {
  from: { type: 'string' },
  to: { type: 'string' },
  'aggregate-type': { type: 'string', multiple: true },
  'database-url': { type: 'string' },
  brokers: { type: 'string' },
  'client-id': { type: 'string' },
  'kafka-client': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...statusOptions,
  ...projectionRuntimeOptions,
} as const;

/** Runs `tributary verify`; 0 without drift, 1 with drift or on a failure, 2 on bad usage. */
export async function verifyCommand(
  args: readonly string[],
  output: CliOutput,
  env: Environment = process.env,
): Promise<number> {
  let values: ReturnType<typeof parseArgs<{ options: typeof options; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: [...args], options, strict: true }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    output.out(VERIFY_USAGE);
    return 0;
  }
  const window: VerifyWindow = {
    from: timeFlag('--from', values.from),
    to: timeFlag('--to', values.to),
    aggregateTypes: values['aggregate-type'] ?? [],
  };
  const config = resolveProjectionRuntimeConfig(projectionRuntimeConfigFrom(values, env));
  const { sourceDatabaseUrl, capture } = pipelineSourceFrom(values, env, config.topicPrefix);
  const databaseUrl =
    nonEmpty(values['database-url']) ?? nonEmpty(env.DATABASE_URL) ?? sourceDatabaseUrl;
  const brokers = nonEmpty(values.brokers) ?? nonEmpty(env.KAFKA_BROKERS);
  if (brokers === undefined) throw new UsageError('no Kafka: pass --brokers or set KAFKA_BROKERS');
  const kafka = createKafkaClient(
    kafkaClientName(
      { value: values['kafka-client'], source: '--kafka-client' },
      { value: env[KAFKA_CLIENT_ENV], source: KAFKA_CLIENT_ENV },
    ),
    {
      clientId:
        nonEmpty(values['client-id']) ?? nonEmpty(env.KAFKA_CLIENT_ID) ?? 'tributary-verify',
      brokers: brokers.split(',').map((broker) => broker.trim()),
    },
  );
  const source = knexFactory({
    client: 'pg',
    connection: sourceDatabaseUrl,
    pool: { min: 0, max: 2 },
  });
  const readModels =
    databaseUrl === sourceDatabaseUrl
      ? source
      : knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  try {
    const report = await verify({
      source,
      readModels,
      kafka,
      outbox: capture.outbox,
      config,
      window,
    });
    output.out(values.json === true ? JSON.stringify(report, null, 2) : formatVerifyReport(report));
    return report.ok ? 0 : 1;
  } finally {
    await source.destroy();
    if (readModels !== source) await readModels.destroy();
  }
}

/** What {@link verify} reads from. */
export interface VerifyOptions {
  readonly source: Knex;
  readonly readModels: Knex;
  readonly kafka: KafkaClient;
  readonly outbox: OutboxConfig;
  readonly config: ProjectionRuntimeConfig;
  readonly window: VerifyWindow;
}

/** Reads the three sides and compares them. */
export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const { window, config } = options;
  const events = await outboxEvents(options.source, options.outbox, window);
  const types = [...new Set(events.map((event) => event.aggregateType))].sort();
  const topics = new Map(types.map((type) => [topicFor(config, type), type]));
  const records = await kafkaEvents(options.kafka, [...topics.keys()]);
  const wholeOutbox =
    window.from === null && window.to === null && window.aggregateTypes.length === 0;
  const differences = compareWithKafka(events, records, wholeOutbox);
  const projections = await projectionVersions(options.readModels, config, topics);
  for (const projection of projections)
    differences.push(...compareProjection(events, projection, window.to === null));
  return {
    window,
    outboxEvents: events.length,
    kafkaRecords: records.length,
    projections: projections.map((p) => ({
      projection: p.projection,
      version: p.version,
      aggregates: p.aggregates.size,
    })),
    differences,
    ok: differences.length === 0,
  };
}

async function outboxEvents(
  knex: Knex,
  outbox: OutboxConfig,
  window: VerifyWindow,
): Promise<OutboxEventRef[]> {
  const table = `${quoteIdentifier('schema', outbox.schema)}.${quoteIdentifier('eventsTable', outbox.eventsTable)}`;
  const where: string[] = [];
  const bindings: Knex.RawBinding[] = [];
  if (window.from !== null) {
    where.push('occurred_at >= ?');
    bindings.push(window.from);
  }
  if (window.to !== null) {
    where.push('occurred_at < ?');
    bindings.push(window.to);
  }
  if (window.aggregateTypes.length > 0) {
    where.push('aggregate_type = any(?)');
    bindings.push([...window.aggregateTypes]);
  }
  const { rows } = await knex.raw<{
    rows: {
      event_id: string;
      aggregate_type: string;
      aggregate_id: string;
      aggregate_version: number;
    }[];
  }>(
    `select event_id, aggregate_type, aggregate_id, aggregate_version from ${table}${
      where.length === 0 ? '' : ` where ${where.join(' and ')}`
    } order by position`,
    bindings,
  );
  return rows.map((row) => ({
    eventId: row.event_id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    aggregateVersion: Number(row.aggregate_version),
  }));
}

async function kafkaEvents(
  kafka: KafkaClient,
  topics: readonly string[],
): Promise<KafkaEventRef[]> {
  const admin = kafka.admin();
  await admin.connect();
  let existing: Set<string>;
  try {
    existing = new Set(await admin.listTopics());
  } finally {
    await admin.disconnect();
  }
  const records: KafkaEventRef[] = [];
  // A topic that does not exist holds nothing: its events all show as missing.
  for (const topic of topics.filter((name) => existing.has(name))) {
    await kafka.readCommitted(
      topic,
      (record) => {
        const eventId = headerValue(record.headers, EventHeaders.eventId);
        if (eventId === undefined) return;
        records.push({
          eventId,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset.toString(),
        });
      },
      { timeoutMs: 120_000 },
    );
  }
  return records;
}

/** Active projection versions, their consumed aggregate types and stored versions. */
async function projectionVersions(
  knex: Knex,
  config: ProjectionRuntimeConfig,
  topics: ReadonlyMap<string, string>,
): Promise<ProjectionVersions[]> {
  const schema = quoteIdentifier('schema', config.schema);
  const registry = `${schema}.${quoteIdentifier('registryTable', config.registryTable)}`;
  const checkpoints = `${schema}.${quoteIdentifier('checkpointsTable', config.checkpointsTable)}`;
  const aggregates = `${schema}.${quoteIdentifier('aggregatesTable', config.aggregatesTable)}`;
  const { rows: present } = await knex.raw<{ rows: { found: string | null }[] }>(
    'select to_regclass(?) as found',
    [`${config.schema}.${config.registryTable}`],
  );
  if (present[0]?.found === null || present[0]?.found === undefined) return [];
  const { rows: active } = await knex.raw<{ rows: { projection: string; version: number }[] }>(
    `select projection, version from ${registry} where status = 'active' order by projection`,
  );
  const result: ProjectionVersions[] = [];
  for (const { projection, version } of active) {
    const { rows: consumed } = await knex.raw<{ rows: { topic: string }[] }>(
      `select distinct topic from ${checkpoints} where projection = ? and version = ?`,
      [projection, version],
    );
    const aggregateTypes = consumed
      .map((row) => topics.get(row.topic))
      .filter((type): type is string => type !== undefined);
    const { rows: stored } = await knex.raw<{
      rows: {
        aggregate_type: string;
        aggregate_id: string;
        last_version: number;
        parked: boolean;
      }[];
    }>(
      `select aggregate_type, aggregate_id, last_version, parked from ${aggregates} where projection = ? and version = ?`,
      [projection, version],
    );
    result.push({
      projection,
      version,
      aggregateTypes,
      aggregates: new Map(
        stored.map((row) => [
          `${row.aggregate_type}/${row.aggregate_id}`,
          { lastVersion: Number(row.last_version), parked: row.parked },
        ]),
      ),
    });
  }
  return result;
}

function timeFlag(flag: string, value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  const time = new Date(value);
  if (Number.isNaN(time.getTime()))
    throw new UsageError(
      `${flag} must be an ISO 8601 time (e.g. 2026-01-31T12:00:00Z), not ${value}`,
    );
  return time.toISOString();
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;
