/**
 * The demo on the real stack: the same steps and final state as {@link runShopDemo}, with
 * each service's reactors in a child process, each outbox captured to Kafka, and waits on
 * the services' databases where the in-memory flow runs until idle.
 */
import { command } from '@tributary/core';
import { upStack } from '@tributary/testing';
import { AddStock } from '../inventory.js';
import { CancelOrder, ConfirmOrder } from '../orders.js';
import { PAYMENT_WINDOW_MS } from '../reactors.js';
import { waitUntil } from '../stack/child.js';
import { startOrderReadModel } from '../stack/read-model.js';
import { createShopStack, type ShopStack } from '../stack/shop-stack.js';
import { payAndReadYourWrite, waitOnStoppedReadModel } from './read-your-writes.js';
import { reportShop, type ShopDemoOutcome } from './scenario.js';

/** Where the stack is: env `DATABASE_URL` + `KAFKA_BROKERS`, else the local stack (started if needed). */
export async function stackConnection(
  log: (line: string) => void,
): Promise<{ databaseUrl: string; kafkaBrokers: readonly string[] }> {
  const databaseUrl = process.env['DATABASE_URL'];
  const brokers = process.env['KAFKA_BROKERS'];
  if (databaseUrl !== undefined && databaseUrl !== '' && brokers !== undefined && brokers !== '')
    return { databaseUrl, kafkaBrokers: brokers.split(',') };
  log(
    'DATABASE_URL/KAFKA_BROKERS not set: using the local stack (npm run stack:up), starting it if needed…',
  );
  const { state } = await upStack({ log });
  if (state.databaseUrl === undefined || state.kafkaBrokers === undefined)
    throw new Error('the local stack reported no database or Kafka');
  return { databaseUrl: state.databaseUrl, kafkaBrokers: state.kafkaBrokers };
}

async function streamTypes(
  stack: ShopStack,
  service: 'orders' | 'inventory',
  where: { type?: string; aggregateId?: string; orderId?: string },
): Promise<string[]> {
  let query = stack
    .knex(`${stack[service].schema}.events`)
    .select<{ event_type: string }[]>('event_type')
    .orderBy('position');
  if (where.aggregateId !== undefined) query = query.where('aggregate_id', where.aggregateId);
  if (where.orderId !== undefined)
    query = query.whereRaw(`payload->>'orderId' = ?`, [where.orderId]);
  if (where.type !== undefined) query = query.where('event_type', where.type);
  return (await query).map((row) => row.event_type);
}

/** Runs the demo on the stack at `connection`, in schemas and topics of its own. */
export async function runShopStackDemo(
  write: (line: string) => void,
  log: (line: string) => void,
  connection: { databaseUrl: string; kafkaBrokers: readonly string[] },
  namespace = `shop_${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}`,
): Promise<ShopDemoOutcome> {
  const stack = await createShopStack({ ...connection, namespace, log });
  const ordersProcess = stack.orders.start();
  const inventoryProcess = stack.inventory.start();
  const readModel = await startOrderReadModel({
    ...connection,
    topicPrefix: stack.topicPrefix,
    schema: stack.orders.schema,
    groupIdPrefix: `${namespace}_read`,
  });
  try {
    await Promise.all([ordersProcess.started(), inventoryProcess.started()]);
    log(
      `orders (pid ${ordersProcess.process.pid}) and inventory (pid ${inventoryProcess.process.pid}) reacting`,
    );
    const { orders, inventory } = stack;
    await inventory.bus.execute(command(AddStock, { sku: 'A', quantity: 5 }), {
      commandId: 'stock-a-initial',
    });
    write('inventory: 5 × A in stock');
    for (const [orderId, quantity] of [
      ['o-1', 2],
      ['o-2', 10],
      ['o-3', 1],
    ] as const) {
      await orders.bus.execute(command(ConfirmOrder, { orderId, sku: 'A', quantity }));
      write(`orders: ${orderId} confirmed (${quantity} × A)`);
      // One at a time, so the stock's history reads as in memory.
      await waitUntil(
        `the reservation of ${orderId}`,
        async () => (await streamTypes(stack, 'inventory', { orderId })).length > 0,
      );
    }
    await waitUntil('o-2 cancelled for want of stock', async () =>
      (await streamTypes(stack, 'orders', { aggregateId: 'o-2' })).includes('OrderCancelled'),
    );
    const pending = async (key: string): Promise<boolean> =>
      (
        await stack
          .knex(`${orders.schema}.reactor_deadlines`)
          .where({ key, status: 'pending' })
          .count<{ n: string }[]>('* as n')
      )[0]?.n !== '0';
    await waitUntil('the payment deadline of o-3', () => pending('unpaid:o-3'));
    // Read-your-writes: the payment's token, waited on, before the read model is read.
    const afterPayment = await payAndReadYourWrite(orders.bus, readModel, 'o-1', write);
    await waitUntil(
      'the payment deadline of o-1 cancelled',
      async () => !(await pending('unpaid:o-1')),
    );
    write(`clock: +${PAYMENT_WINDOW_MS / 60_000} min (payment window)`);
    ordersProcess.process.send({ advanceMs: PAYMENT_WINDOW_MS + 1_000 });
    await waitUntil('o-3 cancelled by its deadline and its unit released', async () =>
      (await streamTypes(stack, 'inventory', { orderId: 'o-3' })).includes('StockReleased'),
    );
    await orders.bus
      .execute(command(CancelOrder, { orderId: 'o-1', reason: 'late' }))
      .catch((error: unknown) => write(`orders: o-1 cannot be cancelled (${String(error)})`));
    const outcome = await reportShop(orders, inventory, write);
    const stopped = await waitOnStoppedReadModel(orders.bus, readModel, 'o-4', write);
    return { ...outcome, readYourWrites: { afterPayment, ...stopped } };
  } finally {
    await readModel.close();
    for (const child of [ordersProcess, inventoryProcess]) {
      if (child.alive()) child.process.kill('SIGTERM');
      await child.exited;
    }
    await stack.close();
  }
}
