/**
 * The orders service's read model: one row per order with its status, as a customer page
 * shows it. It is what the read-your-writes demo waits on: after `PayOrder`, the page must
 * say "paid", not the "confirmed" a lagging read model would still show.
 */
import { defineProjection, readModelViews } from '@tributary/projections';
import type { Knex } from 'knex';
import type { OrderEvent, OrderState } from './orders.js';

/** One order as the read model holds it. */
export interface OrderSummary {
  readonly orderId: string;
  readonly status: OrderState['status'];
  readonly sku: string;
  readonly quantity: number;
}

/** Order summaries, projected from the orders service's own events. */
export const orderSummaries = defineProjection<OrderEvent, 'order_summaries'>({
  name: 'order_summaries',
  version: 1,
  aggregateTypes: ['Order'],
  tables: ['order_summaries'],
  migrations: [
    {
      name: '0001_order_summaries',
      async up(_trx, migration) {
        await migration.createTable('order_summaries', (table) => {
          table.text('order_id').primary();
          table.text('status').notNullable();
          table.text('sku').notNullable();
          table.integer('quantity').notNullable();
        });
      },
    },
  ],
  handlers: {
    async OrderConfirmed(event, { trx, tables }) {
      await trx(tables.order_summaries).insert({
        order_id: event.aggregateId,
        status: 'confirmed',
        sku: event.payload.sku,
        quantity: event.payload.quantity,
      });
    },
    async OrderPaid(event, { trx, tables }) {
      await trx(tables.order_summaries)
        .where({ order_id: event.aggregateId })
        .update({ status: 'paid' });
    },
    async OrderCancelled(event, { trx, tables }) {
      await trx(tables.order_summaries)
        .where({ order_id: event.aggregateId })
        .update({ status: 'cancelled' });
    },
  },
});

/** Reads one order from the reader view of `readModelSchema` (undefined when not projected yet). */
export async function readOrderSummary(
  knex: Knex,
  readModelSchema: string,
  orderId: string,
): Promise<OrderSummary | undefined> {
  const view = readModelViews(orderSummaries, readModelSchema).order_summaries;
  const row = (await knex(view).where({ order_id: orderId }).first()) as
    { order_id: string; status: OrderState['status']; sku: string; quantity: number } | undefined;
  return row === undefined
    ? undefined
    : { orderId: row.order_id, status: row.status, sku: row.sku, quantity: row.quantity };
}
