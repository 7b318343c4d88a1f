/**
 * The shop on the real stack, as the parent of its two services: each service has its own
 * outbox schema on the server and its own capturer publishing that outbox to Kafka; each
 * service's reactors run in a child process of its own (`service-process.ts`) that reads
 * Kafka and writes only its schema. The parent also plays the services' front doors (their
 * command buses), as an HTTP handler would.
 */
import { CommandBus } from '@tributary/core';
import { createKafkajsClient } from '@tributary/kafkajs';
import {
  createPostgresKafkaCapturer,
  migrateOutbox,
  PostgresEventStore,
  resolveCaptureConfig,
} from '@tributary/outbox';
import knexFactory, { type Knex } from 'knex';
import { Stock } from '../inventory.js';
import { Order } from '../orders.js';
import { sleep, startServiceProcess, type ServiceProcess } from './child.js';

/** The two services. */
export type ShopServiceName = 'orders' | 'inventory';

/** Options of {@link createShopStack}. */
export interface ShopStackOptions {
  readonly databaseUrl: string;
  readonly kafkaBrokers: readonly string[];
  /** Lower-case identifier prefix of this run's schemas, slots, topics and groups. */
  readonly namespace: string;
  readonly log?: (line: string) => void;
}

/** One service as seen from the parent. */
export interface ShopStackService {
  readonly schema: string;
  readonly bus: CommandBus;
  readonly eventStore: PostgresEventStore;
  /** Starts a reacting process of this service (a fresh consumer group per start). */
  start(extraEnv?: Record<string, string>): ServiceProcess;
}

/** The running shop. */
export interface ShopStack {
  readonly knex: Knex;
  readonly topicPrefix: string;
  readonly orders: ShopStackService;
  readonly inventory: ShopStackService;
  /** Stops the capturers, drops their slots and publications, closes connections. */
  close(): Promise<void>;
}

/** Migrates both schemas, creates the topics, starts both capturers streaming. */
export async function createShopStack(options: ShopStackOptions): Promise<ShopStack> {
  const log = options.log ?? (() => undefined);
  const { databaseUrl, namespace } = options;
  const brokers = [...options.kafkaBrokers];
  const topicPrefix = `${namespace}.events`;
  const knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 4 } });
  const kafka = createKafkajsClient({ brokers, clientId: `${namespace}-shop` });
  // Both services' topics exist before anyone consumes (reactors wait for missing topics).
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics(
    ['Order', 'Stock'].map((type) => ({
      topic: `${topicPrefix}.${type}`,
      partitions: 3,
      replicationFactor: 1,
    })),
  );
  await admin.disconnect();

  const capturers: { stop(): Promise<void>; slot: string; publication: string }[] = [];
  let starts = 0;
  const service = async (name: ShopServiceName): Promise<ShopStackService> => {
    const schema = `${namespace}_${name}`;
    await migrateOutbox({ knex, config: { schema } });
    const capture = resolveCaptureConfig({
      name: `${namespace}_${name}`,
      databaseUrl,
      outbox: { schema },
      kafka: { brokers },
      topics: { partitions: 3 },
      router: { topicPrefix },
      heartbeatIntervalMs: 0,
      progressIntervalMs: 0,
    });
    const capturer = createPostgresKafkaCapturer({
      config: capture,
      kafka: createKafkajsClient({ brokers, clientId: `${namespace}-capture-${name}` }),
    });
    const capturing = capturer.run();
    capturing.catch((error: unknown) => log(`capturer ${name} stopped: ${String(error)}`));
    capturers.push({
      stop: () => capturer.stop(),
      slot: capture.slot.name,
      publication: capture.slot.publication,
    });
    const deadline = Date.now() + 60_000;
    while (capturer.state !== 'streaming') {
      if (Date.now() > deadline) throw new Error(`capturer ${name} stuck in ${capturer.state}`);
      await Promise.race([capturing, sleep(50)]);
    }
    log(`${name}: outbox schema "${schema}", capturer streaming to ${topicPrefix}.*`);
    const eventStore = new PostgresEventStore({ connection: knex, config: { schema } });
    return {
      schema,
      eventStore,
      bus: new CommandBus({
        eventStore,
        aggregates: name === 'orders' ? [Order] : [Stock],
        validate: false,
      }),
      start: (extraEnv = {}) =>
        startServiceProcess({
          SHOP_SERVICE: name,
          SHOP_SCHEMA: schema,
          DATABASE_URL: databaseUrl,
          KAFKA_BROKERS: brokers.join(','),
          TOPIC_PREFIX: topicPrefix,
          GROUP_PREFIX: `${namespace}_g${(starts += 1)}`,
          ...extraEnv,
        }),
    };
  };
  const orders = await service('orders');
  const inventory = await service('inventory');
  return {
    knex,
    topicPrefix,
    orders,
    inventory,
    async close() {
      for (const capturer of capturers) {
        await capturer.stop();
        // This run's slots would otherwise pin WAL on the server.
        await knex.raw(
          'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = ?',
          [capturer.slot],
        );
        await knex.raw(`drop publication if exists "${capturer.publication}"`);
      }
      await knex.destroy();
    },
  };
}
