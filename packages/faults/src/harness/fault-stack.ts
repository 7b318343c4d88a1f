/**
 * The fault matrix's own PostgreSQL + Kafka, started by the project's launcher. Its own,
 * never the shared test stack: the matrix kills and freezes the servers, which would break
 * every other integration test running at the same time.
 *
 * Kafka behind a proxy: a broker tells clients, in its metadata, which address to connect
 * to, so a proxy in front of the normal listener would only carry the bootstrap request.
 * The broker therefore gets a second listener, `PROXIED`, that advertises the proxy's
 * address: our processes bootstrap through the proxy, receive the proxy as the broker's
 * address, and every later connection crosses the proxy too. The verifier uses the normal
 * listener, so it is not hit by the network faults it measures.
 */
import {
  findFreePort,
  freezeServer,
  killKafkaServer,
  removeState,
  resolveStackConfig,
  startKafkaServer,
  startPostgresServer,
  startStack,
  stateFile,
  stopPostgresServer,
  stopStack,
  thawServer,
  writeState,
  createTcpFaultProxy,
  type StackState,
  type TcpFaultProxy,
} from '@tributary/testing';

/** A running fault stack with its proxies and the server controls. */
export interface FaultStack {
  /** Direct PostgreSQL admin URL (the `postgres` database). */
  readonly adminUrl: string;
  /** Direct brokers (the verifier's view). */
  readonly kafkaBrokers: readonly string[];
  /** Proxy in front of PostgreSQL, used by capture and projections. */
  readonly postgresProxy: TcpFaultProxy;
  /** Proxy in front of the broker's PROXIED listener, used by capture and projections. */
  readonly kafkaProxy: TcpFaultProxy;
  /** A database URL on the stack, direct or through the PostgreSQL proxy. */
  databaseUrl(database: string, through: 'direct' | 'proxy'): string;
  /** `pg_ctl stop -m immediate`. */
  crashPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  killKafka(): Promise<void>;
  startKafka(): Promise<void>;
  freezeKafka(): void;
  thawKafka(): void;
  stop(): Promise<void>;
}

/** Broker transaction-timeout checks every second (default 10 s), so a timed-out transaction is aborted promptly. */
const BROKER_PROPERTIES = ['transaction.abort.timed.out.transaction.cleanup.interval.ms=1000'];

/** Starts PostgreSQL and Kafka for the matrix, with a proxy in front of each. */
export async function startFaultStack(log: (message: string) => void): Promise<FaultStack> {
  const proxiedPort = await findFreePort();
  const kafkaProxy = await createTcpFaultProxy({
    target: { host: '127.0.0.1', port: proxiedPort },
  });
  const name = `faults-${process.pid}`;
  const options = {
    services: ['postgres', 'kafka'] as const,
    kafka: {
      proxiedListener: { port: proxiedPort, advertisedPort: kafkaProxy.port },
      extraProperties: BROKER_PROPERTIES,
    },
  };
  let state: StackState;
  try {
    state = await startStack({ ...options, name, log });
  } catch (error) {
    await kafkaProxy.close();
    throw error;
  }
  const file = stateFile(resolveStackConfig().repoRoot, name);
  // Recorded so `npm run stack:down` cleans up if this run is killed.
  await writeState(file, state);
  const postgresPort = state.services.postgres?.ports[0] ?? 0;
  const postgresProxy = await createTcpFaultProxy({
    target: { host: '127.0.0.1', port: postgresPort },
  });
  const direct = new URL(state.databaseUrl ?? '');
  const urlOf = (database: string, port: number): string => {
    const url = new URL(direct);
    url.port = String(port);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const update = async (next: StackState): Promise<void> => {
    state = next;
    await writeState(file, state);
  };
  // Last resort if the run dies abruptly: no server outlives it (`stack:down` removes the dirs).
  const emergencyStop = (): void => {
    for (const service of Object.values(state.services)) {
      try {
        process.kill(-service.process.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  process.once('exit', emergencyStop);
  return {
    adminUrl: urlOf('postgres', postgresPort),
    kafkaBrokers: state.kafkaBrokers ?? [],
    postgresProxy,
    kafkaProxy,
    databaseUrl: (database, through) =>
      urlOf(database, through === 'direct' ? postgresPort : postgresProxy.port),
    crashPostgres: () => stopPostgresServer(state, 'immediate', options),
    startPostgres: async () => update(await startPostgresServer(state, options)),
    killKafka: () => killKafkaServer(state),
    startKafka: async () => update(await startKafkaServer(state, { ...options, log })),
    freezeKafka: () => freezeServer(state, 'kafka'),
    thawKafka: () => thawServer(state, 'kafka'),
    async stop() {
      process.off('exit', emergencyStop);
      await Promise.allSettled([kafkaProxy.close(), postgresProxy.close()]);
      thawServer(state, 'kafka');
      await stopStack(state, options);
      await removeState(file);
    },
  };
}
