/**
 * The inventory service's domain: stock per sku, reserved per order (or refused when short),
 * released when the order is cancelled.
 */
import { defineAggregate, DomainRuleViolation, type DomainEvent } from '@tributary/core';

/** Adds units of a sku. */
export class AddStock {
  static readonly commandType = 'AddStock';
  sku!: string;
  quantity!: number;
}

/** Reserves units for an order; records a failure when not enough are available. */
export class ReserveStock {
  static readonly commandType = 'ReserveStock';
  sku!: string;
  orderId!: string;
  quantity!: number;
}

/** Gives back what an order reserved (nothing when it reserved nothing). */
export class ReleaseStock {
  static readonly commandType = 'ReleaseStock';
  sku!: string;
  orderId!: string;
}

/** Events of a sku's stock. */
export type StockEvent =
  | DomainEvent<'StockAdded', { quantity: number }>
  | DomainEvent<'StockReserved', { orderId: string; quantity: number }>
  | DomainEvent<'StockReservationFailed', { orderId: string; quantity: number }>
  | DomainEvent<'StockReleased', { orderId: string; quantity: number }>;

/** Available units and reservations by order. */
export interface StockState {
  readonly available: number;
  readonly reserved: Readonly<Record<string, number>>;
}

/** The stock aggregate (one per sku). */
export const Stock = defineAggregate<StockState, StockEvent>({
  type: 'Stock',
  initialState: () => ({ available: 0, reserved: {} }),
  evolve: {
    StockAdded: (state, { quantity }) => ({ ...state, available: state.available + quantity }),
    StockReserved: (state, { orderId, quantity }) => ({
      available: state.available - quantity,
      reserved: { ...state.reserved, [orderId]: quantity },
    }),
    StockReservationFailed: (state) => state,
    StockReleased: (state, { orderId, quantity }) => {
      const reserved = { ...state.reserved };
      delete reserved[orderId];
      return { available: state.available + quantity, reserved };
    },
  },
})
  .handles(AddStock, {
    aggregateId: (cmd) => cmd.sku,
    decide: (cmd) => {
      if (!(cmd.quantity > 0)) throw new DomainRuleViolation('stock.quantity', 'Add at least 1');
      return { type: 'StockAdded', data: { quantity: cmd.quantity } };
    },
  })
  .handles(ReserveStock, {
    aggregateId: (cmd) => cmd.sku,
    decide: (cmd, state) =>
      state.available >= cmd.quantity
        ? { type: 'StockReserved', data: { orderId: cmd.orderId, quantity: cmd.quantity } }
        : {
            type: 'StockReservationFailed',
            data: { orderId: cmd.orderId, quantity: cmd.quantity },
          },
  })
  .handles(ReleaseStock, {
    aggregateId: (cmd) => cmd.sku,
    decide: (cmd, state) => {
      const quantity = state.reserved[cmd.orderId];
      return quantity === undefined
        ? []
        : [{ type: 'StockReleased', data: { orderId: cmd.orderId, quantity } }];
    },
  });
