import { command, type CommandBus, type EventStore } from '@tributary/core';
import { createWholeFlow, type FlowService, type WholeFlow } from '@tributary/testing';
import { AddStock, Stock, type StockState } from '../inventory.js';
import { CancelOrder, ConfirmOrder, Order, type OrderState } from '../orders.js';
import { orderSummaries, readOrderSummary } from '../order-summaries.js';
import { fulfilment, PAYMENT_WINDOW_MS, reserveStock } from '../reactors.js';
import {
  payAndReadYourWrite,
  waitOnStoppedReadModel,
  type OrderReadModel,
  type ReadYourWritesOutcome,
} from './read-your-writes.js';

/** Where the demo ended: each order's status and the stock of the sku. */
export interface ShopOutcome {
  readonly orders: Readonly<Record<string, OrderState['status']>>;
  readonly stock: StockState;
}

/** The demo's outcome and what its read-your-writes steps saw. */
export interface ShopDemoOutcome extends ShopOutcome {
  readonly readYourWrites: ReadYourWritesOutcome;
}

const validate = { validate: false } as const;

/** The two services, connected only by the in-memory Kafka log. */
export function createShopFlow(): Promise<WholeFlow> {
  return createWholeFlow({
    services: [
      {
        name: 'orders',
        aggregates: [Order],
        reactors: [fulfilment],
        projections: [orderSummaries],
        commandBus: validate,
      },
      { name: 'inventory', aggregates: [Stock], reactors: [reserveStock], commandBus: validate },
    ],
  });
}

/**
 * The demo in memory: 5 units of sku A; o-1 (2) is paid; o-2 (10) finds no stock and is
 * cancelled by the process manager; o-3 (1) stays unpaid and is cancelled by its deadline,
 * which releases its unit. Ends with 3 units available.
 */
export async function runShopDemo(write: (line: string) => void): Promise<ShopDemoOutcome> {
  const flow = await createShopFlow();
  try {
    const orders = flow.service('orders');
    const inventory = flow.service('inventory');
    const readModel = memoryReadModel(orders);
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
    }
    await flow.runUntilIdle();
    // Read-your-writes: the payment's token, waited on, before the read model is read.
    const afterPayment = await payAndReadYourWrite(orders.bus, readModel, 'o-1', write);
    await flow.runUntilIdle();
    write(`clock: +${PAYMENT_WINDOW_MS / 60_000} min (payment window)`);
    await flow.advanceTime(PAYMENT_WINDOW_MS + 1_000);
    // A cancellation of the paid order is refused by the order itself.
    await orders.bus
      .execute(command(CancelOrder, { orderId: 'o-1', reason: 'late' }))
      .catch((error: unknown) => write(`orders: o-1 cannot be cancelled (${String(error)})`));
    const outcome = await reportShop(orders, inventory, write);
    const stopped = await waitOnStoppedReadModel(orders.bus, readModel, 'o-4', write);
    return { ...outcome, readYourWrites: { afterPayment, ...stopped } };
  } finally {
    await flow.close();
  }
}

/** The orders read model of the in-memory flow (its projections run when waited on). */
function memoryReadModel(orders: FlowService): OrderReadModel {
  const projections = orders.projections;
  if (projections === undefined) throw new Error('the orders service has no projections');
  const { knex, config } = projections.store;
  return {
    waitFor: (projection, token, options) => projections.waitFor(projection, token, options),
    read: (orderId) => readOrderSummary(knex, config.readModelSchema, orderId),
    stop: () => projections.stop(),
  };
}

/** What the report reads of a service. */
export interface ShopServiceView {
  readonly bus: Pick<CommandBus, 'load'>;
  readonly eventStore: Pick<EventStore, 'readStream'>;
}

/** Prints each order's events and the stock of A, and returns the outcome (both runtimes). */
export async function reportShop(
  orders: ShopServiceView,
  inventory: ShopServiceView,
  write: (line: string) => void,
): Promise<ShopOutcome> {
  const status: Record<string, OrderState['status']> = {};
  for (const orderId of ['o-1', 'o-2', 'o-3']) {
    const loaded = await orders.bus.load(Order, orderId);
    status[orderId] = loaded.state.status;
    const { events } = await orders.eventStore.readStream({
      aggregateType: 'Order',
      aggregateId: orderId,
    });
    write(`${orderId}: ${events.map((event) => event.eventType).join(' → ')}`);
  }
  const stock = (await inventory.bus.load(Stock, 'A')).state;
  const { events } = await inventory.eventStore.readStream({
    aggregateType: 'Stock',
    aggregateId: 'A',
  });
  write(`stock A: ${events.map((event) => event.eventType).join(' → ')}`);
  write(`stock A available: ${stock.available}, reserved: ${JSON.stringify(stock.reserved)}`);
  return { orders: status, stock };
}
