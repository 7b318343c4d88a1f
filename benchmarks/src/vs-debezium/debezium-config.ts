/**
 * The Kafka Connect worker and Debezium connector settings of `npm run bench:vs-debezium`,
 * as pure functions so a unit test can check what matters without a JVM.
 *
 * The connector is configured the way Debezium's outbox documentation tells a user to:
 * the PostgreSQL connector on the outbox table alone, `plugin.name=pgoutput`, and the
 * `io.debezium.transforms.outbox.EventRouter` transform mapped onto Tributary's outbox
 * columns (route by aggregate type, key = aggregate id, value = payload, event id), with
 * the envelope columns Tributary's records carry as headers placed as headers too, so both
 * sides put the same information into Kafka.
 */

/** How record values are serialized: JsonConverter (the worker default) or StringConverter. */
export type DebeziumValueFormat = 'json' | 'string';

/** Converter class per value format. */
export const CONVERTER_CLASSES = {
  json: 'org.apache.kafka.connect.json.JsonConverter',
  string: 'org.apache.kafka.connect.storage.StringConverter',
} as const satisfies Record<DebeziumValueFormat, string>;

/** Java properties, in the order they are written. */
export type Properties = ReadonlyMap<string, string>;

/** Settings of a standalone Connect worker. */
export interface WorkerOptions {
  readonly bootstrapServers: readonly string[];
  readonly valueFormat: DebeziumValueFormat;
  /** File of the standalone worker's source offsets (fresh per run). */
  readonly offsetsFile: string;
  /** `plugin.path`: the directory whose subdirectory holds the Debezium connector's jars. */
  readonly pluginPath: string;
  /** Port of the worker's REST API on 127.0.0.1 (status checks). */
  readonly restPort: number;
}

/**
 * The worker's properties: keys as plain strings (like Tributary's record keys), values
 * with the chosen converter (JsonConverter keeps its default `schemas.enable=true`, what a
 * user who does not change it gets). Exactly-once source support stays at the worker
 * default (disabled; standalone workers do not offer it). Plugin discovery uses the
 * ServiceLoader manifests only, as the worker's own start-up warning recommends.
 */
export function connectWorkerProperties(options: WorkerOptions): Properties {
  const properties = new Map<string, string>([
    ['bootstrap.servers', options.bootstrapServers.join(',')],
    ['key.converter', CONVERTER_CLASSES.string],
    ['value.converter', CONVERTER_CLASSES[options.valueFormat]],
  ]);
  if (options.valueFormat === 'json') properties.set('value.converter.schemas.enable', 'true');
  properties.set('offset.storage.file.filename', options.offsetsFile);
  properties.set('plugin.path', options.pluginPath);
  // What the worker itself recommends at start ("All plugins have ServiceLoader manifests,
  // consider reconfiguring plugin.discovery=service_load"): the default (hybrid_warn) also
  // scans every class reflectively, a minute of CPU before the connector starts.
  properties.set('plugin.discovery', 'service_load');
  properties.set('listeners', `http://127.0.0.1:${options.restPort}`);
  return properties;
}

/** Settings of one Debezium PostgreSQL connector with the outbox EventRouter. */
export interface ConnectorOptions {
  /** Connector name (also its offsets key). */
  readonly name: string;
  /** PostgreSQL URL (`postgres://user:password@host:port/database`). */
  readonly databaseUrl: string;
  /** Debezium's `topic.prefix` (its logical server name; no topic is named after it here). */
  readonly serverName: string;
  /** Replication slot (pgoutput), created before the backlog so the connector reads it all. */
  readonly slot: string;
  /** Publication on the outbox table, created before the slot. */
  readonly publication: string;
  /** Outbox table, `schema.table`. Default `tributary.events`. */
  readonly outboxTable?: string;
  /** Event topics: `<topicPrefix>.<aggregate type>`, like Tributary's. */
  readonly topicPrefix: string;
  /** Partitions of the event topics Connect creates (Tributary's default: 3). */
  readonly partitions: number;
}

/** Tributary's outbox columns (packages/outbox/src/migrations.ts) that become headers. */
const HEADER_COLUMNS = [
  ['aggregate_type', 'aggregateType'],
  ['aggregate_version', 'aggregateVersion'],
  ['event_type', 'eventType'],
  ['schema_version', 'schemaVersion'],
  ['occurred_at', 'occurredAt'],
  ['metadata', 'metadata'],
] as const;

/**
 * The connector's properties.
 *
 * - `snapshot.mode=no_data`: no table snapshot; with no stored offset the connector streams
 *   from where its slot was created, i.e. the whole backlog written after it.
 * - `publication.autocreate.mode=disabled`: the benchmark creates the publication (before
 *   the slot, as pgoutput requires) on the outbox table only, as `filtered` would.
 * - Connect creates the event topics with {@link ConnectorOptions.partitions} partitions and
 *   the broker's replication factor, as Tributary's capturer does.
 */
export function debeziumConnectorProperties(options: ConnectorOptions): Properties {
  const url = new URL(options.databaseUrl);
  return new Map<string, string>([
    ['name', options.name],
    ['connector.class', 'io.debezium.connector.postgresql.PostgresConnector'],
    ['tasks.max', '1'],
    ['database.hostname', url.hostname],
    ['database.port', url.port === '' ? '5432' : url.port],
    ['database.user', decodeURIComponent(url.username)],
    ['database.password', decodeURIComponent(url.password)],
    ['database.dbname', decodeURIComponent(url.pathname.replace(/^\//, ''))],
    ['topic.prefix', options.serverName],
    ['plugin.name', 'pgoutput'],
    ['slot.name', options.slot],
    ['publication.name', options.publication],
    ['publication.autocreate.mode', 'disabled'],
    ['snapshot.mode', 'no_data'],
    ['table.include.list', options.outboxTable ?? 'tributary.events'],
    ['tombstones.on.delete', 'false'],
    ['transforms', 'outbox'],
    ['transforms.outbox.type', 'io.debezium.transforms.outbox.EventRouter'],
    ['transforms.outbox.table.field.event.id', 'event_id'],
    ['transforms.outbox.table.field.event.key', 'aggregate_id'],
    ['transforms.outbox.table.field.event.payload', 'payload'],
    ['transforms.outbox.route.by.field', 'aggregate_type'],
    ['transforms.outbox.route.topic.replacement', `${options.topicPrefix}.\${routedByValue}`],
    [
      'transforms.outbox.table.fields.additional.placement',
      HEADER_COLUMNS.map(([column, header]) => `${column}:header:${header}`).join(','),
    ],
    ['topic.creation.default.partitions', String(options.partitions)],
    ['topic.creation.default.replication.factor', '-1'],
  ]);
}

/**
 * Java `.properties` text. Backslashes, and `=`/`:` in keys, are escaped; values here are
 * class names, URLs, paths and the `${routedByValue}` placeholder, which need nothing else.
 */
export function formatProperties(properties: Properties): string {
  const escape = (text: string): string => text.replaceAll('\\', '\\\\');
  return [...properties]
    .map(
      ([key, value]) =>
        `${escape(key).replaceAll('=', '\\=').replaceAll(':', '\\:')}=${escape(value)}`,
    )
    .join('\n')
    .concat('\n');
}
