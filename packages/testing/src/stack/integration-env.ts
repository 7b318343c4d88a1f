import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import type * as Vitest from 'vitest';
import { EXTERNAL_SERVER_ENV } from './config.js';
import { StackError } from './errors.js';
import type { StackConnection } from './state.js';

/** Key under which the global setup provides the {@link StackConnection}. */
export const PROVIDED_STACK_KEY = 'tributaryStack';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by the `@tributary/testing` global setup when the run has integration tests. */
    [PROVIDED_STACK_KEY]: StackConnection;
  }
}

/**
 * One test file's private slice of the shared stack: its own database and its own topic
 * and subject namespace, so files run in parallel without seeing each other's data.
 */
export interface IntegrationEnv {
  /** URL of this file's own database (same server, role with REPLICATION). */
  readonly databaseUrl: string;
  /** Name of this file's database. */
  readonly database: string;
  readonly kafkaBrokers: readonly string[];
  /** Base URL for `@kafkajs/confluent-schema-registry` (Confluent-compatible API). */
  readonly schemaRegistryUrl: string;
  /**
   * Unique per file: lowercase letters, digits and `_`, so it is valid as a database,
   * slot, publication, consumer group or transactional id prefix.
   */
  readonly namespace: string;
  /** Prefix of every topic this file creates: `<namespace>.`. */
  readonly topicPrefix: string;
  /** `topicPrefix + name`, e.g. `it_x1y2.events.Account`. */
  topic(name: string): string;
  /** A namespaced identifier for slots, groups, transactional ids, subjects: `<namespace>_<name>`. */
  name(name: string): string;
  /** The shared servers, e.g. for an admin connection to the default database. */
  readonly stack: StackConnection;
  /**
   * Drops the database (and replication slots in it), deletes the topics and registry
   * subjects of this namespace. Registered with `afterAll` by {@link useIntegrationEnv}
   * unless `registerCleanup: false`; safe to call twice.
   */
  cleanup(): Promise<void>;
}

/** Options of {@link useIntegrationEnv}. */
export interface IntegrationEnvOptions {
  /** Readable part of the namespace, e.g. the file's subject. Default: `it`. */
  readonly label?: string;
  /**
   * Register {@link IntegrationEnv.cleanup} with vitest's `afterAll`. Default: `true`;
   * pass `false` when calling from inside a hook, where hooks cannot be registered.
   */
  readonly registerCleanup?: boolean;
}

type VitestHooks = Pick<typeof Vitest, 'inject' | 'afterAll'>;

/**
 * vitest is loaded on demand: the main entry point of this package must not depend on a
 * test runner at import time (vitest is an optional peer dependency).
 */
async function loadVitest(): Promise<VitestHooks | undefined> {
  try {
    return await import('vitest');
  } catch {
    return undefined;
  }
}

/**
 * The connection to the shared servers: what the global setup provided, else the
 * `DATABASE_URL` / `KAFKA_BROKERS` / `SCHEMA_REGISTRY_URL` environment variables.
 *
 * @throws StackError `STACK_NOT_PROVIDED` if neither is available
 */
export async function stackConnection(): Promise<StackConnection> {
  let provided: StackConnection | undefined;
  try {
    provided = (await loadVitest())?.inject(PROVIDED_STACK_KEY);
  } catch {
    // Not inside a vitest worker; fall back to the environment.
  }
  if (provided !== undefined) return provided;
  const databaseUrl = process.env[EXTERNAL_SERVER_ENV.postgres];
  const brokers = process.env[EXTERNAL_SERVER_ENV.kafka];
  const schemaRegistryUrl = process.env[EXTERNAL_SERVER_ENV.registry];
  if (databaseUrl && brokers && schemaRegistryUrl) {
    return {
      databaseUrl,
      kafkaBrokers: brokers.split(',').map((broker) => broker.trim()),
      schemaRegistryUrl: schemaRegistryUrl.replace(/\/+$/, ''),
    };
  }
  throw new StackError(
    'STACK_NOT_PROVIDED',
    'no integration stack: name integration tests *.int.test.ts so the @tributary/testing global ' +
      'setup starts one, run `npm run stack:up`, or set DATABASE_URL, KAFKA_BROKERS and SCHEMA_REGISTRY_URL',
  );
}

const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
};

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

async function adminQuery(url: string, sql: string, values: unknown[] = []): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/**
 * The readable part of a namespace: lowercase letters, digits and `_`, starting with a
 * letter so `env.name(...)` is valid unquoted in SQL, short enough that namespaced
 * identifiers stay under PostgreSQL's 63-byte limit.
 */
export function namespaceLabel(label = 'it'): string {
  const cleaned = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 24);
  if (cleaned === '') return 'it';
  return /^[a-z]/.test(cleaned) ? cleaned : `t_${cleaned}`;
}

/**
 * Creates this test file's database and namespace on the shared stack.
 *
 * ```ts
 * const env = await useIntegrationEnv({ label: 'capture' }); // top level of a *.int.test.ts
 * const pool = new pg.Pool({ connectionString: env.databaseUrl });
 * const topic = env.topic('events.Account');
 * ```
 */
export async function useIntegrationEnv(
  options: IntegrationEnvOptions = {},
): Promise<IntegrationEnv> {
  const stack = await stackConnection();
  const namespace = `${namespaceLabel(options.label)}_${randomBytes(5).toString('hex')}`;
  const database = namespace;
  // CREATE DATABASE copies template1: a fresh, empty database per file.
  await adminQuery(stack.databaseUrl, `create database ${quoteIdent(database)}`);
  const topicPrefix = `${namespace}.`;

  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await dropDatabase(stack.databaseUrl, database);
    await deleteTopics(stack.kafkaBrokers, topicPrefix);
    await deleteSubjects(stack.schemaRegistryUrl, namespace);
  };
  if (options.registerCleanup ?? true) {
    const vitest = await loadVitest();
    if (vitest === undefined) {
      throw new StackError(
        'STACK_NOT_PROVIDED',
        'registerCleanup needs vitest; pass registerCleanup: false and call cleanup()',
      );
    }
    vitest.afterAll(cleanup, 60_000);
  }

  return {
    databaseUrl: withDatabase(stack.databaseUrl, database),
    database,
    kafkaBrokers: stack.kafkaBrokers,
    schemaRegistryUrl: stack.schemaRegistryUrl,
    namespace,
    topicPrefix,
    topic: (name) => `${topicPrefix}${name}`,
    name: (name) => `${namespace}_${name}`,
    stack,
    cleanup,
  };
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  // A logical slot pins its database: DROP DATABASE refuses while one exists, and an
  // active slot must lose its walsender first.
  await adminQuery(
    adminUrl,
    `select pg_terminate_backend(active_pid) from pg_replication_slots
      where database = $1 and active_pid is not null`,
    [database],
  );
  for (let attempt = 0; ; attempt += 1) {
    try {
      await adminQuery(
        adminUrl,
        `select pg_drop_replication_slot(slot_name) from pg_replication_slots
          where database = $1 and not active`,
        [database],
      );
      await adminQuery(adminUrl, `drop database if exists ${quoteIdent(database)} with (force)`);
      return;
    } catch (error) {
      // A terminated walsender releases its slot asynchronously; retry briefly.
      if (attempt >= 20) throw error;
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 250));
    }
  }
}

async function deleteTopics(brokers: readonly string[], prefix: string): Promise<void> {
  const admin = new Kafka({
    clientId: 'tributary-test-cleanup',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

async function deleteSubjects(registryUrl: string, namespace: string): Promise<void> {
  const response = await fetch(`${registryUrl}/subjects`);
  if (!response.ok) throw new Error(`GET ${registryUrl}/subjects answered ${response.status}`);
  const subjects = (await response.json()) as string[];
  for (const subject of subjects.filter((name) => name.startsWith(namespace))) {
    const url = `${registryUrl}/subjects/${encodeURIComponent(subject)}`;
    // Confluent semantics: a soft delete first, then the permanent one.
    await fetch(url, { method: 'DELETE' });
    await fetch(`${url}?permanent=true`, { method: 'DELETE' });
  }
}
