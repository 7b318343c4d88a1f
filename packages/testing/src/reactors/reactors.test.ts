import { command, defineAggregate, DomainRuleViolation, type DomainEvent } from '@tributary/core';
import { defineProcessManager, defineReactor } from '@tributary/reactors';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgliteKnex } from '../projections/pglite.js';
import { givenEvent } from '../projections/projection-specification.js';
import { createWholeFlow } from './whole-flow.js';
import { reactorSpec } from './reactor-specification.js';

// Orders service.
class ConfirmOrder {
  static readonly commandType = 'ConfirmOrder';
  orderId!: string;
  sku!: string;
  quantity!: number;
}
class CancelOrder {
  static readonly commandType = 'CancelOrder';
  orderId!: string;
  reason!: string;
}
type OrderEvent =
  | DomainEvent<'OrderConfirmed', { sku: string; quantity: number }>
  | DomainEvent<'OrderCancelled', { reason: string }>;
const Order = defineAggregate<{ status: string }, OrderEvent>({
  type: 'Order',
  initialState: () => ({ status: 'new' }),
  evolve: {
    OrderConfirmed: () => ({ status: 'confirmed' }),
    OrderCancelled: () => ({ status: 'cancelled' }),
  },
})
  .handles(ConfirmOrder, {
    aggregateId: (cmd) => cmd.orderId,
    decide: (cmd) => ({ type: 'OrderConfirmed', data: { sku: cmd.sku, quantity: cmd.quantity } }),
  })
  .handles(CancelOrder, {
    aggregateId: (cmd) => cmd.orderId,
    decide: (cmd, state) => {
      if (state.status === 'cancelled')
        throw new DomainRuleViolation('order.cancelled', 'already cancelled');
      return { type: 'OrderCancelled', data: { reason: cmd.reason } };
    },
  });

// Inventory service.
class Reserve {
  static readonly commandType = 'Reserve';
  sku!: string;
  orderId!: string;
  quantity!: number;
}
type StockEvent =
  | DomainEvent<'Reserved', { orderId: string; quantity: number }>
  | DomainEvent<'ReservationFailed', { orderId: string; quantity: number }>;
const Stock = defineAggregate<{ available: number }, StockEvent>({
  type: 'Stock',
  initialState: () => ({ available: 3 }),
  evolve: {
    Reserved: (state, { quantity }) => ({ available: state.available - quantity }),
    ReservationFailed: (state) => state,
  },
}).handles(Reserve, {
  aggregateId: (cmd) => cmd.sku,
  decide: (cmd, state) =>
    state.available >= cmd.quantity
      ? { type: 'Reserved', data: { orderId: cmd.orderId, quantity: cmd.quantity } }
      : { type: 'ReservationFailed', data: { orderId: cmd.orderId, quantity: cmd.quantity } },
});

const reserveStock = defineReactor<OrderEvent>({
  name: 'reserve_stock',
  events: { Order: ['OrderConfirmed'] },
  async handle(event, ctx) {
    if (event.eventType !== 'OrderConfirmed') return;
    await ctx.execute(
      command(Reserve, {
        sku: event.payload.sku,
        orderId: event.aggregateId,
        quantity: event.payload.quantity,
      }),
    );
    await ctx.effect('email', { orderId: event.aggregateId }, () => undefined);
  },
});

/** Cancels an order whose reservation failed, or that nobody reserved within an hour. */
const fulfilment = defineProcessManager<OrderEvent | StockEvent, { step: string }>({
  name: 'fulfilment',
  events: { Order: ['OrderConfirmed'], Stock: ['Reserved', 'ReservationFailed'] },
  initialState: () => ({ step: 'started' }),
  async handle(event, _state, ctx) {
    if (event.eventType === 'OrderConfirmed') {
      await ctx.schedule(command(CancelOrder, { orderId: event.aggregateId, reason: 'timeout' }), {
        after: 3_600_000,
        key: `timeout:${event.aggregateId}`,
      });
      return { step: 'reserving' };
    }
    const { orderId } = event.payload as { orderId: string };
    await ctx.cancel(`timeout:${orderId}`);
    if (event.eventType === 'ReservationFailed') {
      await ctx.execute(command(CancelOrder, { orderId, reason: 'out of stock' }));
    }
    ctx.complete();
    return { step: event.eventType };
  },
});

const commandBus = { validate: false };
const db = await createPgliteKnex();
afterAll(() => db.close());

describe('reactorSpec', () => {
  it('records the commands and effects of a reactor', async () => {
    const outcome = await reactorSpec(reserveStock, { knex: db.knex })
      .given(givenEvent('Order', 'o-1', 'OrderConfirmed', { sku: 'A', quantity: 2 }))
      .outcome();
    expect(outcome.commands).toMatchObject([
      { type: 'Reserve', props: { sku: 'A', orderId: 'o-1', quantity: 2 } },
    ]);
    expect(outcome.commands[0]?.commandId).toMatch(/^reserve_stock:.+:c0$/);
    expect(outcome.effects).toEqual([{ name: 'email', input: { orderId: 'o-1' } }]);
    await reactorSpec(reserveStock, { knex: db.knex })
      .given(givenEvent('Order', 'o-1', 'OrderConfirmed', { sku: 'A', quantity: 2 }))
      .thenCommands([command(Reserve, { sku: 'A', orderId: 'o-1', quantity: 2 })]);
  });

  it('shows pending scheduled commands, and that a cancelled one is gone; a wrong expectation fails', async () => {
    const spec = reactorSpec(fulfilment, { knex: db.knex });
    const confirmed = givenEvent(
      'Order',
      'o-1',
      'OrderConfirmed',
      { sku: 'A', quantity: 2 },
      {
        metadata: { correlationId: 'k-1' },
      },
    );
    await spec.given(confirmed).thenScheduled([
      {
        command: command(CancelOrder, { orderId: 'o-1', reason: 'timeout' }),
        dueAt: '2026-01-01T01:00:00.000Z',
        key: 'timeout:o-1',
      },
    ]);
    const failed = givenEvent(
      'Stock',
      'A',
      'ReservationFailed',
      { orderId: 'o-1', quantity: 2 },
      {
        metadata: { correlationId: 'k-1' },
      },
    );
    const scenario = spec.given(confirmed, failed);
    await scenario.thenScheduled([]);
    await scenario.thenCommands([command(CancelOrder, { orderId: 'o-1', reason: 'out of stock' })]);
    await expect(scenario.thenNothing()).rejects.toThrow(/expected to do nothing/);
  });
});

describe('whole flow: two services sharing only the in-memory log', () => {
  it('confirm → reserve in the other service (causation carried across); failed reservation → cancel through the process manager', async () => {
    const flow = await createWholeFlow({
      knex: db.knex,
      services: [
        { name: 'orders', aggregates: [Order], reactors: [fulfilment], commandBus },
        { name: 'inventory', aggregates: [Stock], reactors: [reserveStock], commandBus },
      ],
    });
    try {
      const orders = flow.service('orders');
      const inventory = flow.service('inventory');
      await orders.bus.execute(command(ConfirmOrder, { orderId: 'o-1', sku: 'A', quantity: 2 }));
      await orders.bus.execute(command(ConfirmOrder, { orderId: 'o-2', sku: 'A', quantity: 2 }));
      await flow.runUntilIdle();
      const stock = await inventory.eventStore.readStream({
        aggregateType: 'Stock',
        aggregateId: 'A',
      });
      expect(stock.events.map((e) => e.eventType)).toEqual(['Reserved', 'ReservationFailed']);
      // The reservation's cause is the consumed order event, across the services.
      const confirmedO1 = (
        await orders.eventStore.readStream({ aggregateType: 'Order', aggregateId: 'o-1' })
      ).events[0];
      expect(stock.events[0]?.metadata).toMatchObject({
        commandCausationId: confirmedO1?.eventId,
        correlationId: confirmedO1?.metadata.correlationId,
      });
      const o2 = await orders.eventStore.readStream({ aggregateType: 'Order', aggregateId: 'o-2' });
      expect(o2.events.map((e) => e.eventType)).toEqual(['OrderConfirmed', 'OrderCancelled']);
    } finally {
      await flow.close();
    }
  });

  it('an order no reservation answers is cancelled by its deadline, once, when the clock passes it', async () => {
    // No inventory service: nothing ever answers the confirmation.
    const flow = await createWholeFlow({
      knex: db.knex,
      services: [{ name: 'lonely', aggregates: [Order], reactors: [fulfilment], commandBus }],
    });
    try {
      const orders = flow.service('lonely');
      await orders.bus.execute(command(ConfirmOrder, { orderId: 'o-3', sku: 'B', quantity: 1 }));
      await flow.runUntilIdle();
      const read = () =>
        orders.eventStore.readStream({ aggregateType: 'Order', aggregateId: 'o-3' });
      await flow.advanceTime(59 * 60_000);
      expect((await read()).events).toHaveLength(1);
      await flow.advanceTime(2 * 60_000);
      await flow.advanceTime(60 * 60_000);
      const o3 = await read();
      expect(o3.events.map((e) => e.eventType)).toEqual(['OrderConfirmed', 'OrderCancelled']);
      expect(o3.events[1]?.payload).toEqual({ reason: 'timeout' });
    } finally {
      await flow.close();
    }
  });
});
