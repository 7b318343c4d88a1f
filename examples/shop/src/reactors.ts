/**
 * What joins the two services, through Kafka only:
 * - the inventory service's reactor reserves stock when an order is confirmed, and releases
 *   it when an order is cancelled;
 * - the orders service's process manager cancels an order whose reservation failed, and
 *   schedules a deadline that cancels an order still unpaid after the payment window.
 */
import { command, DomainRuleViolation } from '@tributary/core';
import { defineProcessManager, defineReactor } from '@tributary/reactors';
import { ReleaseStock, ReserveStock, type StockEvent } from './inventory.js';
import { CancelOrder, type OrderEvent } from './orders.js';

/** Inventory service: stock follows orders. */
export const reserveStock = defineReactor<OrderEvent>({
  name: 'reserve_stock',
  events: { Order: ['OrderConfirmed', 'OrderCancelled'] },
  async handle(event, ctx) {
    if (event.eventType === 'OrderConfirmed') {
      const { sku, quantity } = event.payload;
      await ctx.execute(command(ReserveStock, { sku, orderId: event.aggregateId, quantity }));
    } else if (event.eventType === 'OrderCancelled') {
      // Releases nothing when the reservation had failed (the stock knows per order).
      const { sku } = event.payload as { sku: string };
      await ctx.execute(command(ReleaseStock, { sku, orderId: event.aggregateId }));
    }
  },
});

/** How long an order may stay unpaid. */
export const PAYMENT_WINDOW_MS = 15 * 60_000;

// A type alias (not an interface) so it is assignable to JsonValue.
type FulfilmentState = {
  readonly sku: string | null;
  readonly step: 'new' | 'reserving' | 'reserved' | 'paid' | 'cancelled';
};

/** Orders service: per order, from confirmation to payment or cancellation. */
export const fulfilment = defineProcessManager<OrderEvent | StockEvent, FulfilmentState>({
  name: 'fulfilment',
  events: {
    Order: ['OrderConfirmed', 'OrderPaid'],
    Stock: ['StockReserved', 'StockReservationFailed'],
  },
  // Per order: order events by their aggregate id, stock events by the order they name.
  correlate: (event) =>
    event.aggregateType === 'Order'
      ? event.aggregateId
      : (event.payload as { orderId: string }).orderId,
  initialState: () => ({ sku: null, step: 'new' }),
  async handle(event, state, ctx) {
    switch (event.eventType) {
      case 'OrderConfirmed': {
        const { sku } = event.payload as { sku: string };
        await ctx.schedule(command(CancelOrder, { orderId: event.aggregateId, reason: 'unpaid' }), {
          after: PAYMENT_WINDOW_MS,
          key: `unpaid:${event.aggregateId}`,
        });
        return { sku, step: state.step === 'reserved' ? 'reserved' : 'reserving' };
      }
      case 'StockReserved':
        return {
          ...state,
          step: state.step === 'new' || state.step === 'reserving' ? 'reserved' : state.step,
        };
      case 'StockReservationFailed': {
        const { orderId } = event.payload as { orderId: string };
        await ctx.cancel(`unpaid:${orderId}`);
        try {
          await ctx.execute(command(CancelOrder, { orderId, reason: 'out of stock' }));
        } catch (error) {
          // The customer cancelled it first: nothing left to do (any other refusal is a bug).
          if (!(error instanceof DomainRuleViolation && error.rule === 'order.not-cancellable'))
            throw error;
        }
        ctx.complete();
        return { ...state, step: 'cancelled' };
      }
      case 'OrderPaid':
        await ctx.cancel(`unpaid:${event.aggregateId}`);
        ctx.complete();
        return { ...state, step: 'paid' };
      default:
        return state;
    }
  },
});
