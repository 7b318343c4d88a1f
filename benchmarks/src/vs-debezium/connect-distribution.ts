/**
 * The jars of `npm run bench:vs-debezium`: a Kafka Connect worker (the stack's Kafka
 * version) and the Debezium PostgreSQL connector as a Connect plugin, resolved with Maven
 * from Maven Central into the stack's download cache, so only the first run downloads.
 */
import { ensureMavenLibraries, type StackConfig } from '@tributary/testing';

/** Version of every Debezium artifact (`io.debezium:*`), unless BENCH_DEBEZIUM_VERSION says otherwise. */
export const DEFAULT_DEBEZIUM_VERSION = '3.6.1.Final';

/** A Connect worker classpath and a plugin path holding the Debezium connector. */
export interface ConnectDistribution {
  /** Classpath of the worker JVM (connect-runtime, connect-json, connect-transforms, logging). */
  readonly workerClasspath: string;
  /** The worker's `plugin.path`: a directory whose one subdirectory holds the connector's jars. */
  readonly pluginPath: string;
  readonly kafkaVersion: string;
  readonly debeziumVersion: string;
}

/**
 * Ensures both cache entries (`kafka-connect-<kafka>` and
 * `debezium-connector-postgres-<debezium>/plugins/…`) and returns where they are.
 */
export async function ensureConnectDistribution(
  config: StackConfig,
  debeziumVersion: string,
  log: (message: string) => void,
): Promise<ConnectDistribution> {
  const kafka = (artifactId: string) => ({
    groupId: 'org.apache.kafka',
    artifactId,
    version: config.kafka.version,
  });
  const worker = await ensureMavenLibraries(
    config,
    {
      entry: `kafka-connect-${config.kafka.version}`,
      artifacts: [
        kafka('connect-runtime'),
        kafka('connect-json'),
        kafka('connect-transforms'),
        // As for the broker: the poms bring slf4j-api only; Kafka's own binding is log4j2's.
        {
          groupId: 'org.apache.logging.log4j',
          artifactId: 'log4j-slf4j-impl',
          version: config.kafka.log4jVersion,
        },
      ],
    },
    log,
  );
  // A plugin directory holds the connector and what it needs besides Connect: the worker
  // provides Kafka's classes (Debezium's pom declares its own kafka-clients/connect-api at
  // runtime scope; Debezium's published plugin archive leaves them out too).
  const connector = await ensureMavenLibraries(
    config,
    {
      entry: `debezium-connector-postgres-${debeziumVersion}`,
      artifacts: [
        {
          groupId: 'io.debezium',
          artifactId: 'debezium-connector-postgres',
          version: debeziumVersion,
        },
      ],
      excludeGroupIds: ['org.apache.kafka'],
    },
    log,
  );
  return {
    workerClasspath: worker.classpath,
    // plugin.path lists directories whose subdirectories are plugins: `libs/` is the plugin.
    pluginPath: connector.dir,
    kafkaVersion: config.kafka.version,
    debeziumVersion,
  };
}
