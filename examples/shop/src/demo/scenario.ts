import { command, type CommandBus, type EventStore } from '@tributary/core';
import { createWholeFlow, type WholeFlow } from '@tributary/testing';
import { AddStock, Stock, type StockState } from '../inventory.js';
import { CancelOrder, ConfirmOrder, Order, PayOrder, type OrderState } from '../orders.js';
import { fulfilment, PAYMENT_WINDOW_MS, reserveStock } from '../reactors.js';

/** Where the demo ended: each order's status and the stock of the sku. */
export interface ShopOutcome {
  readonly orders: Readonly<Record<string, OrderState['status']>>;
  readonly stock: StockState;
}

const validate = { validate: false } as const;

/** The two services, connected only by the in-memory Kafka log. */
export function createShopFlow(): Promise<WholeFlow> {
  return createWholeFlow({
    services: [
      { name: 'orders', aggregates: [Order], reactors: [fulfilment], commandBus: validate },
      { name: 'inventory', aggregates: [Stock], reactors: [reserveStock], commandBus: validate },
    ],
  });
}

/**
 * The demo in memory: 5 units of sku A; o-1 (2) is paid; o-2 (10) finds no stock and is
 * cancelled by the process manager; o-3 (1) stays unpaid and is cancelled by its deadline,
 * which releases its unit. Ends with 3 units available.
 */
export async function runShopDemo(write: (line: string) => void): Promise<ShopOutcome> {
  const flow = await createShopFlow();
  try {
    const orders = flow.service('orders');
    const inventory = flow.service('inventory');
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
    await orders.bus.execute(command(PayOrder, { orderId: 'o-1' }));
    write('orders: o-1 paid');
    await flow.runUntilIdle();
    write(`clock: +${PAYMENT_WINDOW_MS / 60_000} min (payment window)`);
    await flow.advanceTime(PAYMENT_WINDOW_MS + 1_000);
    // A cancellation of the paid order is refused by the order itself.
    await orders.bus
      .execute(command(CancelOrder, { orderId: 'o-1', reason: 'late' }))
      .catch((error: unknown) => write(`orders: o-1 cannot be cancelled (${String(error)})`));
    return await reportShop(orders, inventory, write);
  } finally {
    await flow.close();
  }
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
