import { existsSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The three servers of the local stack. */
export type StackService = 'postgres' | 'kafka' | 'registry';

/** Every service, in the order they are reported. */
export const STACK_SERVICES: readonly StackService[] = ['postgres', 'kafka', 'registry'];

/**
 * Settings of the local real stack. Every field has a documented default, applied by
 * {@link resolveStackConfig}; environment variables override the defaults, explicit
 * options override both.
 */
export interface StackConfig {
  /**
   * Repository root: `.tributary/` under it holds the state files and the lock.
   * Default: `$TRIBUTARY_REPO_ROOT`, else the nearest directory, from the working directory
   * up, whose `package.json` declares `workspaces`, else the working directory.
   */
  readonly repoRoot: string;
  /**
   * Where downloads are cached (Kafka jars, the Apicurio Registry distribution), outside
   * the repository so `git clean` and fresh clones keep them.
   * Default: `$TRIBUTARY_CACHE_DIR`, else `$XDG_CACHE_HOME/tributary`, else `~/.cache/tributary`.
   */
  readonly cacheDir: string;
  /**
   * Parent of each stack's run directory (data dirs, logs). Each `up` creates a fresh
   * `tributary-stack-XXXXXX` under it and `down` deletes it.
   * Default: `$TRIBUTARY_RUN_DIR`, else the OS temp dir.
   */
  readonly runBaseDir: string;
  /** Which servers to start. Default: all three. */
  readonly services: readonly StackService[];
  /** PostgreSQL settings. */
  readonly postgres: PostgresConfig;
  /** Kafka settings. */
  readonly kafka: KafkaConfig;
  /** Schema registry settings. */
  readonly registry: RegistryConfig;
  /**
   * How long to wait for all servers to become ready, downloads excluded.
   * Default: 120 000 ms (`$TRIBUTARY_STACK_START_TIMEOUT_MS`).
   */
  readonly startTimeoutMs: number;
  /**
   * How long `down` waits after SIGTERM (SIGINT for PostgreSQL) before SIGKILL.
   * Default: 15 000 ms.
   */
  readonly stopTimeoutMs: number;
  /**
   * How long to wait for downloads (Maven resolution), which only happen on a cold cache.
   * Default: 900 000 ms.
   */
  readonly downloadTimeoutMs: number;
}

/** PostgreSQL server settings. */
export interface PostgresConfig {
  /**
   * Directory with `initdb`, `pg_ctl` and `postgres`. Default: `$TRIBUTARY_PG_BIN`, else
   * `/usr/lib/postgresql/15/bin`, else the newest `/usr/lib/postgresql/<n>/bin`, else `PATH`.
   */
  readonly binDir: string | undefined;
  /** Login role (the bootstrap superuser, so it has REPLICATION). Default: `tributary`. */
  readonly user: string;
  /** Password of {@link PostgresConfig.user}. Default: `tributary`. */
  readonly password: string;
  /** Database created for the stack. Default: `tributary`. */
  readonly database: string;
  /**
   * `fsync` setting. Default: `true` (`$TRIBUTARY_PG_FSYNC=off` turns it off): the stack
   * is also used to demonstrate durability, so speed is opt-in.
   */
  readonly fsync: boolean;
  /** `max_replication_slots` and `max_wal_senders`. Default: 20 (tests run in parallel). */
  readonly maxReplicationSlots: number;
  /** `max_connections`. Default: 200 (parallel test files each hold a pool). */
  readonly maxConnections: number;
  /**
   * OS user that runs initdb and the server when the launcher runs as root (initdb refuses
   * root). Default: `postgres`.
   */
  readonly osUserWhenRoot: string;
}

/** Apache Kafka (KRaft, broker and controller in one JVM) settings. */
export interface KafkaConfig {
  /** `org.apache.kafka:kafka_<scala>` version from Maven Central. Default: `4.1.2`. */
  readonly version: string;
  /** Scala binary version of the `kafka_<scala>` artifact. Default: `2.13`. */
  readonly scalaVersion: string;
  /**
   * Version of `org.apache.logging.log4j:log4j-slf4j-impl`, the logging binding Kafka 4.x
   * ships with (its pom only brings slf4j-api 1.7). Default: `2.24.3`.
   */
  readonly log4jVersion: string;
  /** JVM heap options (per node). Default: `-Xms128m -Xmx512m`. */
  readonly heapOpts: readonly string[];
  /**
   * Kafka nodes: 1 starts one broker+controller JVM; more start a KRaft cluster of that many
   * combined nodes with replicated internal topics (cluster.ts, `stack:up -- --brokers 3`).
   * Default: 1 (`$TRIBUTARY_STACK_BROKERS`).
   */
  readonly brokers: number;
  /** Partitions of `__consumer_offsets` and `__transaction_state`. Default: 5 (one node: fewer partitions, faster first use). */
  readonly internalTopicPartitions: number;
  /**
   * A second listener, `PROXIED`, on `127.0.0.1:<port>` that advertises
   * `127.0.0.1:<advertisedPort>`: clients that bootstrap through a TCP proxy listening on
   * `advertisedPort` (and forwarding to `port`) are told to reconnect to the proxy, so all
   * their traffic crosses it (the fault matrix). Default: none.
   */
  readonly proxiedListener: { readonly port: number; readonly advertisedPort: number } | undefined;
  /**
   * More listeners on `127.0.0.1`, each advertised on its own port and PLAINTEXT unless
   * {@link KafkaConfig.extraProperties} maps its name to another protocol (the secured
   * stack's `MTLS` listener). Default: none.
   */
  readonly extraListeners: readonly { readonly name: string; readonly port: number }[];
  /** Extra `server.properties` lines (`key=value`), appended last so they win. Default: none. */
  readonly extraProperties: readonly string[];
}

/** Apicurio Registry (Confluent-compatible API under `/apis/ccompat/v7`) settings. */
export interface RegistryConfig {
  /** `io.apicurio:apicurio-registry-app` version (its `all` zip). Default: `3.0.9`. */
  readonly apicurioVersion: string;
  /** JVM heap options. Default: `-Xms64m -Xmx256m`. */
  readonly heapOpts: readonly string[];
  /**
   * Serve HTTPS only (Quarkus `quarkus.http.ssl.*`, `insecure-requests=disabled`) with this
   * PEM certificate and key; the readiness probe trusts `caFile`. Default: none (HTTP).
   */
  readonly tls:
    | { readonly certFile: string; readonly keyFile: string; readonly caFile: string }
    | undefined; /**
   * Require HTTP basic authentication on the API (Quarkus' embedded users, role `sr-admin`).
   * Default: none (anonymous).
   */
  readonly basicAuth: { readonly username: string; readonly password: string } | undefined;
}

/** Options accepted by {@link resolveStackConfig}: any subset, nested objects partial too. */
export interface StackConfigOptions {
  readonly repoRoot?: string;
  readonly cacheDir?: string;
  readonly runBaseDir?: string;
  readonly services?: readonly StackService[];
  readonly postgres?: Partial<PostgresConfig>;
  readonly kafka?: Partial<KafkaConfig>;
  readonly registry?: Partial<RegistryConfig>;
  readonly startTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
  readonly downloadTimeoutMs?: number;
}

/** Environment variables that make tests use already running servers instead of the stack. */
export const EXTERNAL_SERVER_ENV = {
  postgres: 'DATABASE_URL',
  kafka: 'KAFKA_BROKERS',
  registry: 'SCHEMA_REGISTRY_URL',
} as const satisfies Record<StackService, string>;

const defaultCacheDir = (env: NodeJS.ProcessEnv): string =>
  env['TRIBUTARY_CACHE_DIR'] ??
  join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'tributary');

/** Walks up from `start` to the npm workspace root, so every package's tests share one `.tributary/`. */
export function findRepoRoot(start: string = process.cwd()): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { workspaces?: unknown };
        if (parsed.workspaces !== undefined) return dir;
      } catch {
        // An unreadable manifest is not a workspace root; keep walking up.
      }
    }
    if (dirname(dir) === dir) return resolve(start);
  }
}

const positiveInt = (value: string | undefined, fallback: number): number => {
  const parsed = value === undefined ? Number.NaN : Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
};

/**
 * Applies the documented defaults and the environment to `options`.
 *
 * @param options - explicit settings; they win over the environment
 * @param env - environment to read (`process.env` by default; tests pass their own)
 */
export function resolveStackConfig(
  options: StackConfigOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): StackConfig {
  return {
    repoRoot: resolve(options.repoRoot ?? env['TRIBUTARY_REPO_ROOT'] ?? findRepoRoot()),
    cacheDir: resolve(options.cacheDir ?? defaultCacheDir(env)),
    runBaseDir: resolve(options.runBaseDir ?? env['TRIBUTARY_RUN_DIR'] ?? tmpdir()),
    services: options.services ?? STACK_SERVICES,
    startTimeoutMs:
      options.startTimeoutMs ?? positiveInt(env['TRIBUTARY_STACK_START_TIMEOUT_MS'], 120_000),
    stopTimeoutMs: options.stopTimeoutMs ?? 15_000,
    downloadTimeoutMs: options.downloadTimeoutMs ?? 900_000,
    postgres: {
      binDir: env['TRIBUTARY_PG_BIN'],
      user: 'tributary',
      password: 'tributary',
      database: 'tributary',
      fsync: env['TRIBUTARY_PG_FSYNC'] !== 'off',
      maxReplicationSlots: 20,
      maxConnections: 200,
      osUserWhenRoot: 'postgres',
      ...options.postgres,
    },
    kafka: {
      version: env['TRIBUTARY_KAFKA_VERSION'] ?? '4.1.2',
      scalaVersion: '2.13',
      log4jVersion: '2.24.3',
      heapOpts: ['-Xms128m', '-Xmx512m'],
      brokers: positiveInt(env['TRIBUTARY_STACK_BROKERS'], 1),
      internalTopicPartitions: 5,
      proxiedListener: undefined,
      extraListeners: [],
      extraProperties: [],
      ...options.kafka,
    },
    registry: {
      apicurioVersion: env['TRIBUTARY_APICURIO_VERSION'] ?? '3.0.9',
      heapOpts: ['-Xms64m', '-Xmx256m'],
      tls: undefined,
      basicAuth: undefined,
      ...options.registry,
    },
  };
}
