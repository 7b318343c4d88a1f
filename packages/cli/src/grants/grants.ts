/**
 * What `tributary grants` prints: the least privileges of each Tributary process, as SQL for
 * PostgreSQL and as `kafka-acls.sh` commands for Kafka. Pure text from the names in the
 * configuration, so the output can be reviewed, committed and applied by an operator.
 */
import { quoteIdentifier } from '@tributary/core';

/** The names the grants are for (every one has the default the processes use). */
export interface GrantsOptions {
  /** Database the roles connect to. Default `tributary`. */
  readonly database: string;
  /** Schema of the outbox tables. Default `tributary`. */
  readonly outboxSchema: string;
  readonly eventsTable: string;
  readonly snapshotsTable: string;
  /** Processed command ids (idempotent commands). Default `commands`. */
  readonly commandsTable: string;
  /** Capturer name: its slot and publication are `tributary_<name>`. Default `default`. */
  readonly captureName: string;
  /** Schema of the projection runtime tables (checkpoints, registry). Default `tributary`. */
  readonly projectionSchema: string;
  /** Schema of the read models. Default `public`. */
  readonly readModelSchema: string;
  readonly roles: { readonly app: string; readonly capture: string; readonly projections: string };
  /** Kafka topic prefix of event topics. Default `events`. */
  readonly topicPrefix: string;
  readonly checkpointTopic: string;
  readonly groupIdPrefix: string;
  readonly deadLetterTopicPrefix: string;
}

/** The defaults of {@link GrantsOptions}: the processes' own defaults. */
export const GRANTS_DEFAULTS: GrantsOptions = {
  database: 'tributary',
  outboxSchema: 'tributary',
  eventsTable: 'events',
  snapshotsTable: 'snapshots',
  commandsTable: 'commands',
  captureName: 'default',
  projectionSchema: 'tributary',
  readModelSchema: 'public',
  roles: {
    app: 'tributary_app',
    capture: 'tributary_capture',
    projections: 'tributary_projections',
  },
  topicPrefix: 'events',
  checkpointTopic: 'tributary.capture.checkpoints',
  groupIdPrefix: 'tributary.projection',
  deadLetterTopicPrefix: 'tributary.dlq',
};

const literal = (value: string): string => `'${value.replaceAll("'", "''")}'`;

function createRole(role: string, attributes: string): string {
  return `do $$ begin
  if not exists (select from pg_roles where rolname = ${literal(role)}) then
    create role ${quoteIdentifier('role', role)} ${attributes};
  end if;
end $$;`;
}

/**
 * The SQL for the three roles. Run it as the owner of the outbox tables (whoever ran
 * `tributary migrate`), after the migration; it is idempotent.
 *
 * @throws InvalidIdentifierError for a name that is not a plain SQL identifier.
 */
export function grantsSql(options: GrantsOptions): string {
  const id = (what: string, name: string): string => quoteIdentifier(what, name);
  const database = id('database', options.database);
  const outbox = id('outboxSchema', options.outboxSchema);
  const events = `${outbox}.${id('eventsTable', options.eventsTable)}`;
  const snapshots = `${outbox}.${id('snapshotsTable', options.snapshotsTable)}`;
  const commands = `${outbox}.${id('commandsTable', options.commandsTable)}`;
  const app = id('roles.app', options.roles.app);
  const capture = id('roles.capture', options.roles.capture);
  const projections = id('roles.projections', options.roles.projections);
  const publication = id('captureName', `tributary_${options.captureName}`);
  const runtimeSchema = id('projectionSchema', options.projectionSchema);
  const readModels = id('readModelSchema', options.readModelSchema);
  const sharedRuntimeSchema = options.projectionSchema === options.outboxSchema;
  return `-- Tributary least-privilege roles for database ${options.database}.
-- Run as the owner of the outbox tables, after \`tributary migrate\`. Idempotent.
-- Set each role's password (or certificate mapping) yourself:
--   alter role ${app} password '…';

-- 1. The application: appends and reads events, snapshots and processed command ids.
${createRole(options.roles.app, 'login')}
grant connect on database ${database} to ${app};
grant usage on schema ${outbox} to ${app};
grant select, insert on ${events} to ${app};
grant select, insert, update on ${snapshots} to ${app};
grant select, insert on ${commands} to ${app};

-- 2. Capture: reads the WAL through its own slot (REPLICATION lets it create the slot
--    tributary_${options.captureName} and emit heartbeats) and selects from the outbox. The
--    publication is created here by the table owner (creating it needs ownership); capture
--    finds it and only checks that it publishes the outbox's inserts.
${createRole(options.roles.capture, 'login replication')}
grant connect on database ${database} to ${capture};
grant usage on schema ${outbox} to ${capture};
grant select on ${events} to ${capture};
do $$ begin
  if not exists (select from pg_publication where pubname = ${literal(`tributary_${options.captureName}`)}) then
    create publication ${publication} for table ${events} with (publish = 'insert');
  end if;
end $$;

-- 3. Projections: their own runtime tables (checkpoints, registry, parked events) and read
--    models; no access to the outbox.
${createRole(options.roles.projections, 'login')}
grant connect on database ${database} to ${projections};
${
  sharedRuntimeSchema
    ? `-- The runtime tables share the outbox schema ${options.outboxSchema}: the role may create its
-- own tables there but is granted nothing on the outbox tables.
grant usage, create on schema ${runtimeSchema} to ${projections};`
    : `create schema if not exists ${runtimeSchema} authorization ${projections};
grant usage, create on schema ${runtimeSchema} to ${projections};`
}
${
  options.readModelSchema === 'public'
    ? `grant usage, create on schema public to ${projections};`
    : `create schema if not exists ${readModels} authorization ${projections};
grant usage, create on schema ${readModels} to ${projections};`
}
`;
}

/**
 * The Kafka ACLs of each process, as `kafka-acls.sh` commands (principals `User:<role>`;
 * prefixed resource patterns where the process derives names from a prefix).
 */
export function grantsKafkaAcls(options: GrantsOptions): string {
  const acl = (principal: string, rest: string): string =>
    `kafka-acls.sh --bootstrap-server "$BOOTSTRAP" --command-config "$ADMIN_CONFIG" --add --allow-principal User:${principal} ${rest}`;
  const { app, capture, projections } = options.roles;
  const transactionalId = `tributary.capture.${options.captureName}`;
  return `# Kafka ACLs (the application itself needs none: it only writes to PostgreSQL; ${app} is listed for completeness).
# Capture: creates and writes the event topics and its checkpoint topic, in transactions.
${acl(capture, `--operation Create --operation Write --operation Describe --operation DescribeConfigs --topic ${options.topicPrefix}. --resource-pattern-type prefixed`)}
${acl(capture, `--operation Create --operation Read --operation Write --operation Describe --operation DescribeConfigs --topic ${options.checkpointTopic}`)}
${acl(capture, `--operation Write --operation Describe --transactional-id ${transactionalId}`)}
${acl(capture, `--operation IdempotentWrite --cluster`)}
# Projections: read the event topics in their consumer groups, publish dead letters.
${acl(projections, `--operation Read --operation Describe --topic ${options.topicPrefix}. --resource-pattern-type prefixed`)}
${acl(projections, `--operation Read --operation Describe --group ${options.groupIdPrefix}. --resource-pattern-type prefixed`)}
${acl(projections, `--operation Create --operation Write --operation Describe --topic ${options.deadLetterTopicPrefix}. --resource-pattern-type prefixed`)}
`;
}
