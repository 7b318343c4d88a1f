import { parseArgs } from 'node:util';
import { isTributaryError } from '@tributary/core';
import { migrateOutbox } from '@tributary/outbox';
import { captureCommand, CAPTURE_USAGE } from './capture/command.js';
import { grantsCommand } from './grants/command.js';
import { consoleOutput, UsageError, type CliOutput } from './output.js';
import { projectionCommand, PROJECTION_USAGE } from './projections/commands.js';
import { schemasCommand } from './schemas/command.js';
import { verifyCommand, VERIFY_USAGE } from './verify/command.js';

const USAGE = `Usage: tributary <command> [options]

Commands:
  migrate     Create or upgrade the outbox tables (idempotent).
  capture     Stream the outbox to Kafka (WAL capture, exactly once) until SIGTERM.
  schemas     check | register event schemas against the registry (tributary schemas --help).
  grants      Print least-privilege SQL roles and Kafka ACLs (tributary grants --help).
  project | status | rebuild | parked
              Run and operate projections (tributary project --help).
  verify      Check the outbox against Kafka and the read models (tributary verify --help).

Options of migrate:
  --database-url <url>    PostgreSQL URL (default: env DATABASE_URL)
  --schema <name>         Schema of the outbox tables (default: tributary)
  --events-table <name>   Outbox table (default: events)
  --snapshots-table <name> Snapshot table (default: snapshots)
  -h, --help              Show this help

${CAPTURE_USAGE}
${PROJECTION_USAGE}
${VERIFY_USAGE}`;

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
      case 'grants':
        return grantsCommand(rest, output);
      case 'project':
      case 'status':
      case 'rebuild':
      case 'parked':
        return await projectionCommand(commandName, rest, output);
      case 'verify':
        return await verifyCommand(rest, output);
      default:
        output.err(`tributary: unknown command "${commandName}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`tributary ${commandName}: ${error.message}`);
      return 2;
    }
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
