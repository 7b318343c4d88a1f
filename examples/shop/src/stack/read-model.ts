/**
 * The orders read model on the real stack: `order_summaries` projected from the orders
 * service's topic into the orders service's database by a projection runtime of its own,
 * as the service's query side would run it.
 */
import { createKafkajsClient } from '@tributary/kafkajs';
import { createProjectionRuntime } from '@tributary/projections';
import knexFactory from 'knex';
import type { OrderReadModel } from '../demo/read-your-writes.js';
import { orderSummaries, readOrderSummary } from '../order-summaries.js';

/** Options of {@link startOrderReadModel}. */
export interface StackReadModelOptions {
  readonly databaseUrl: string;
  readonly kafkaBrokers: readonly string[];
  /** Where the orders service's events are (`<prefix>.Order`). */
  readonly topicPrefix: string;
  /** The orders service's schema: checkpoints go there, the read model to `<schema>_read`. */
  readonly schema: string;
  /** Prefix of the consumer group, unique per run. */
  readonly groupIdPrefix: string;
}

/** A running read model that can be stopped and then closed. */
export interface StackReadModel extends OrderReadModel {
  /** Stops projecting (if still running) and closes its connections. */
  close(): Promise<void>;
}

/** Starts projecting `order_summaries` and resolves once the runtime consumes. */
export async function startOrderReadModel(options: StackReadModelOptions): Promise<StackReadModel> {
  const knex = knexFactory({
    client: 'pg',
    connection: options.databaseUrl,
    pool: { min: 0, max: 4 },
  });
  const readModelSchema = `${options.schema}_read`;
  const runtime = createProjectionRuntime({
    kafka: createKafkajsClient({ brokers: [...options.kafkaBrokers], clientId: 'shop-read' }),
    knex,
    projections: [orderSummaries],
    config: {
      topicPrefix: options.topicPrefix,
      schema: options.schema,
      readModelSchema,
      groupIdPrefix: options.groupIdPrefix,
    },
  });
  await runtime.start();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await runtime.stop();
  };
  return {
    waitFor: (projection, token, waitOptions) => runtime.waitFor(projection, token, waitOptions),
    read: (orderId) => readOrderSummary(knex, readModelSchema, orderId),
    stop,
    async close() {
      await stop();
      await knex.destroy();
    },
  };
}
