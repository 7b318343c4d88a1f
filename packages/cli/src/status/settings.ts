/**
 * Where `tributary status` finds the capture half: the outbox database (default: the same
 * DATABASE_URL as the read models) and the capture settings that name the slot and the
 * checkpoint (the same environment variables as `tributary capture`).
 */
import type { CaptureConfig } from '@tributary/outbox';
import { resolveCaptureConfig } from '@tributary/outbox';
import { captureConfigFromEnvironment, mergeCaptureConfigInputs } from '../capture/environment.js';
import { UsageError } from '../output.js';

type Environment = Readonly<Record<string, string | undefined>>;

/** `parseArgs` options of `tributary status`. */
export const statusOptions = {
  'source-database-url': { type: 'string' },
  'capture-name': { type: 'string' },
} as const;

/** Help lines of the options. */
export const STATUS_USAGE = `  --source-database-url <url>  status: the outbox database with the replication slot
                          (env TRIBUTARY_SOURCE_DATABASE_URL; default: the --database-url)
  --capture-name <name>   status: the capturer to show (env TRIBUTARY_CAPTURE_NAME; default
                          default); TRIBUTARY_SLOT and TRIBUTARY_CHECKPOINT_TOPIC as for capture`;

/**
 * The source database and capture settings for `tributary status`.
 *
 * @throws UsageError when no database is given; CaptureError for invalid capture settings.
 */
export function pipelineSourceFrom(
  values: Readonly<Record<string, unknown>>,
  env: Environment,
  topicPrefix: string,
): { sourceDatabaseUrl: string; capture: CaptureConfig } {
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? value : undefined;
  const sourceDatabaseUrl =
    text(values['source-database-url']) ??
    text(env.TRIBUTARY_SOURCE_DATABASE_URL) ??
    text(values['database-url']) ??
    text(env.DATABASE_URL);
  if (sourceDatabaseUrl === undefined)
    throw new UsageError('no outbox database: pass --source-database-url or set DATABASE_URL');
  const name = text(values['capture-name']);
  const brokers = (text(values.brokers) ?? text(env.KAFKA_BROKERS) ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  const capture = resolveCaptureConfig(
    mergeCaptureConfigInputs(captureConfigFromEnvironment(env), {
      ...(name === undefined ? {} : { name }),
      databaseUrl: sourceDatabaseUrl,
      kafka: { brokers },
      router: { topicPrefix },
    }),
  );
  return { sourceDatabaseUrl, capture };
}
