/**
 * The orders service's domain: an order is placed, confirmed, paid, or cancelled (for want
 * of stock, or unpaid after its payment window). Cancelling a paid order is refused.
 */
import { defineAggregate, DomainRuleViolation, type DomainEvent } from '@tributary/core';

/** Places and confirms an order of `quantity` units of `sku` (one line keeps the example short). */
export class ConfirmOrder {
  static readonly commandType = 'ConfirmOrder';
  orderId!: string;
  sku!: string;
  quantity!: number;
}

/** Records the payment of a confirmed order. */
export class PayOrder {
  static readonly commandType = 'PayOrder';
  orderId!: string;
}

/** Cancels an order that is not paid. */
export class CancelOrder {
  static readonly commandType = 'CancelOrder';
  orderId!: string;
  reason!: string;
}

/** Events of an order. */
export type OrderEvent =
  | DomainEvent<'OrderConfirmed', { sku: string; quantity: number }>
  | DomainEvent<'OrderPaid', Record<string, never>>
  | DomainEvent<'OrderCancelled', { reason: string; sku: string }>;

/** Where an order stands. */
export interface OrderState {
  readonly status: 'new' | 'confirmed' | 'paid' | 'cancelled';
  readonly sku: string;
}

/** The order aggregate. */
export const Order = defineAggregate<OrderState, OrderEvent>({
  type: 'Order',
  initialState: () => ({ status: 'new', sku: '' }),
  evolve: {
    OrderConfirmed: (_state, { sku }) => ({ status: 'confirmed', sku }),
    OrderPaid: (state) => ({ ...state, status: 'paid' }),
    OrderCancelled: (state) => ({ ...state, status: 'cancelled' }),
  },
})
  .handles(ConfirmOrder, {
    aggregateId: (cmd) => cmd.orderId,
    decide: (cmd, state) => {
      if (state.status !== 'new')
        throw new DomainRuleViolation('order.exists', `Order ${cmd.orderId} already exists`);
      return { type: 'OrderConfirmed', data: { sku: cmd.sku, quantity: cmd.quantity } };
    },
  })
  .handles(PayOrder, {
    aggregateId: (cmd) => cmd.orderId,
    decide: (cmd, state) => {
      if (state.status !== 'confirmed')
        throw new DomainRuleViolation(
          'order.not-payable',
          `Order ${cmd.orderId} is ${state.status}`,
        );
      return { type: 'OrderPaid', data: {} };
    },
  })
  .handles(CancelOrder, {
    aggregateId: (cmd) => cmd.orderId,
    decide: (cmd, state) => {
      if (state.status !== 'confirmed')
        throw new DomainRuleViolation(
          'order.not-cancellable',
          `Order ${cmd.orderId} is ${state.status} and cannot be cancelled`,
        );
      // The sku travels with the cancellation so the inventory service can release it.
      return { type: 'OrderCancelled', data: { reason: cmd.reason, sku: state.sku } };
    },
  });
