/**
 * Read-your-writes on the real stack: the orders service's command returns a consistency
 * token; `waitFor` on the orders read model resolves once the event went outbox → WAL →
 * capturer → Kafka → projection, so the read that follows sees the write; with the
 * projection stopped, the wait rejects with the typed timeout and the read model stays stale.
 */
import { command } from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { payAndReadYourWrite, waitOnStoppedReadModel } from '../demo/read-your-writes.js';
import { ConfirmOrder } from '../orders.js';
import { startOrderReadModel } from './read-model.js';
import { createShopStack } from './shop-stack.js';

const env = await useIntegrationEnv({ label: 'shop_ryw' });
const stack = await createShopStack({
  databaseUrl: env.databaseUrl,
  kafkaBrokers: env.kafkaBrokers,
  namespace: env.namespace,
});
afterAll(async () => {
  await stack.close();
});

describe('read-your-writes across Kafka (orders read model)', () => {
  it('waitFor(token) resolves once order_summaries shows the command; stopped, it rejects with PROJECTION_CONSISTENCY_TIMEOUT', async () => {
    const readModel = await startOrderReadModel({
      databaseUrl: env.databaseUrl,
      kafkaBrokers: env.kafkaBrokers,
      topicPrefix: stack.topicPrefix,
      schema: stack.orders.schema,
      groupIdPrefix: `${env.namespace}_read`,
    });
    const lines: string[] = [];
    try {
      await stack.orders.bus.execute(
        command(ConfirmOrder, { orderId: 'r-1', sku: 'A', quantity: 1 }),
      );
      // No reactor runs here: nothing but the payment moves r-1.
      const status = await payAndReadYourWrite(stack.orders.bus, readModel, 'r-1', (line) =>
        lines.push(line),
      );
      expect(status).toBe('paid');
      const stopped = await waitOnStoppedReadModel(stack.orders.bus, readModel, 'r-2', (line) =>
        lines.push(line),
      );
      expect(stopped).toEqual({
        timeoutCode: 'PROJECTION_CONSISTENCY_TIMEOUT',
        whileStopped: undefined,
      });
    } finally {
      await readModel.close();
    }
    expect(lines.some((line) => line.startsWith('orders: r-1 paid (consistency token c1.'))).toBe(
      true,
    );
  }, 180_000);
});
