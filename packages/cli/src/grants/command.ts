import { parseArgs } from 'node:util';
import type { CliOutput } from '../output.js';
import { GRANTS_DEFAULTS, grantsKafkaAcls, grantsSql, type GrantsOptions } from './grants.js';

/** Usage of `tributary grants`. */
export const GRANTS_USAGE = `Usage: tributary grants [options]

Prints the least privileges of each process: SQL for three PostgreSQL roles (the
application, capture, projections) and the Kafka ACLs of capture and projections.
Run the SQL as the owner of the outbox tables after \`tributary migrate\`; it is idempotent.

Options (defaults are the processes' own defaults):
  --database <name>               Database (default: from DATABASE_URL, else tributary)
  --schema <name>                 Outbox schema (default: tributary)
  --events-table <name>           Outbox table (default: events)
  --snapshots-table <name>        Snapshot table (default: snapshots)
  --commands-table <name>         Processed-commands table (default: commands)
  --capture-name <name>           Capturer name; slot and publication tributary_<name> (default: default)
  --projection-schema <name>      Projection runtime schema (default: tributary)
  --read-model-schema <name>      Read-model schema (default: public)
  --app-role <name>               (default: tributary_app)
  --capture-role <name>           (default: tributary_capture)
  --projections-role <name>       (default: tributary_projections)
  --topic-prefix <prefix>         Event topic prefix (default: events)
  --checkpoint-topic <name>       (default: tributary.capture.checkpoints)
  --group-id-prefix <prefix>      (default: tributary.projection)
  --dead-letter-topic-prefix <p>  (default: tributary.dlq)
  --sql | --kafka                 Print only the SQL or only the Kafka ACLs
  -h, --help                      Show this help`;

const databaseFromUrl = (url: string | undefined): string | undefined => {
  if (url === undefined || url === '') return undefined;
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name === '' ? undefined : name;
  } catch {
    return undefined;
  }
};

/** `tributary grants`: prints the SQL and the Kafka ACLs. */
export function grantsCommand(args: readonly string[], output: CliOutput): number {
  const { values } = parseArgs({
    args: [...args],
    options: {
      database: { type: 'string' },
      schema: { type: 'string' },
      'events-table': { type: 'string' },
      'snapshots-table': { type: 'string' },
      'commands-table': { type: 'string' },
      'capture-name': { type: 'string' },
      'projection-schema': { type: 'string' },
      'read-model-schema': { type: 'string' },
      'app-role': { type: 'string' },
      'capture-role': { type: 'string' },
      'projections-role': { type: 'string' },
      'topic-prefix': { type: 'string' },
      'checkpoint-topic': { type: 'string' },
      'group-id-prefix': { type: 'string' },
      'dead-letter-topic-prefix': { type: 'string' },
      sql: { type: 'boolean' },
      kafka: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    output.out(GRANTS_USAGE);
    return 0;
  }
  const d = GRANTS_DEFAULTS;
  const options: GrantsOptions = {
    database: values.database ?? databaseFromUrl(process.env.DATABASE_URL) ?? d.database,
    outboxSchema: values.schema ?? d.outboxSchema,
    eventsTable: values['events-table'] ?? d.eventsTable,
    snapshotsTable: values['snapshots-table'] ?? d.snapshotsTable,
    commandsTable: values['commands-table'] ?? d.commandsTable,
    captureName: values['capture-name'] ?? d.captureName,
    projectionSchema: values['projection-schema'] ?? d.projectionSchema,
    readModelSchema: values['read-model-schema'] ?? d.readModelSchema,
    roles: {
      app: values['app-role'] ?? d.roles.app,
      capture: values['capture-role'] ?? d.roles.capture,
      projections: values['projections-role'] ?? d.roles.projections,
    },
    topicPrefix: values['topic-prefix'] ?? d.topicPrefix,
    checkpointTopic: values['checkpoint-topic'] ?? d.checkpointTopic,
    groupIdPrefix: values['group-id-prefix'] ?? d.groupIdPrefix,
    deadLetterTopicPrefix: values['dead-letter-topic-prefix'] ?? d.deadLetterTopicPrefix,
  };
  const both = values.sql !== true && values.kafka !== true;
  if (both || values.sql === true) output.out(grantsSql(options));
  if (both || values.kafka === true) output.out(grantsKafkaAcls(options));
  return 0;
}
