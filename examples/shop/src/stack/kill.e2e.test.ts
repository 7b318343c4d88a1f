/**
 * Both services' reacting processes are SIGKILLed at random moments, again and again, while
 * orders keep arriving (and some are cancelled by their customers). Afterwards, with clean
 * processes, some reserved orders are paid and the clock passes the payment window: every
 * order must end in exactly one consistent state — paid with its units reserved, or cancelled
 * with its units released (or never reserved) — each effect exactly once, and the stock
 * counts must match the paid orders.
 */
import { command } from '@tributary/core';
import { useIntegrationEnv } from '@tributary/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { AddStock, Stock } from '../inventory.js';
import { CancelOrder, ConfirmOrder, Order, PayOrder } from '../orders.js';
import { PAYMENT_WINDOW_MS } from '../reactors.js';
import { sleep, waitUntil, type ServiceProcess } from './child.js';
import { createShopStack, type ShopStackService } from './shop-stack.js';

const env = await useIntegrationEnv({ label: 'shop_kill' });
const stack = await createShopStack({
  databaseUrl: env.databaseUrl,
  kafkaBrokers: env.kafkaBrokers,
  namespace: env.namespace,
});
afterAll(async () => {
  await stack.close();
});

const SKUS = ['A', 'B'] as const;
const INITIAL_STOCK = 40;
const KILLS_PER_SERVICE = 5;

interface Placed {
  readonly orderId: string;
  readonly sku: string;
  readonly quantity: number;
}

/**
 * Starts, lets it work for a random while (every other time: after its first commit),
 * SIGKILLs — `kills` times; returns the kills seen.
 */
async function killRepeatedly(
  service: ShopStackService,
  kills: number,
  stderr: string[],
  busy: { killedAfterCommits: number },
): Promise<number> {
  let killed = 0;
  while (killed < kills) {
    const child = service.start();
    await child.started(90_000);
    if (killed % 2 === 1) {
      // Every other kill lands after the process committed work, however slow the machine
      // (a group join can take longer than the random delay): mid-stream, not at start-up.
      const deadline = Date.now() + 30_000;
      while (!child.lines.some((line) => line.event === 'committed') && Date.now() < deadline) {
        await sleep(50);
      }
    }
    await sleep(200 + Math.random() * 1_800);
    if (child.alive()) child.process.kill('SIGKILL');
    const { signal } = await child.exited;
    stderr.push(...child.stderr);
    if (child.lines.some((line) => line.event === 'committed')) busy.killedAfterCommits += 1;
    if (signal === 'SIGKILL') killed += 1;
    else throw new Error(`service exited on its own: ${child.stderr.join('').slice(-2_000)}`);
  }
  return killed;
}

type Row = { id: string; type: string; n: number };

async function countsBy(schema: string, key: string): Promise<Map<string, Map<string, number>>> {
  const { rows } = await stack.knex.raw<{ rows: Row[] }>(
    `select ${key} as id, event_type as type, count(*)::int as n from ??.events group by 1, 2`,
    [schema],
  );
  const byId = new Map<string, Map<string, number>>();
  for (const row of rows) {
    const types = byId.get(row.id) ?? new Map<string, number>();
    types.set(row.type, row.n);
    byId.set(row.id, types);
  }
  return byId;
}

describe('the shop under SIGKILL of both services (real Kafka and PostgreSQL)', () => {
  it('ends every order in one consistent state with stock matching, through ≥ 10 kills', async () => {
    const { orders, inventory } = stack;
    for (const sku of SKUS) {
      await inventory.bus.execute(command(AddStock, { sku, quantity: INITIAL_STOCK }), {
        commandId: `initial-${sku}`,
      });
    }

    const stderr: string[] = [];
    // Kills of processes that had committed work: they died in the middle of the stream.
    const busy = { killedAfterCommits: 0 };
    let killing = true;
    const killers = Promise.all([
      killRepeatedly(orders, KILLS_PER_SERVICE, stderr, busy),
      killRepeatedly(inventory, KILLS_PER_SERVICE, stderr, busy),
    ]).finally(() => {
      killing = false;
    });
    const placed: Placed[] = [];
    const customerCancels: Promise<unknown>[] = [];
    while (killing || placed.length < 30) {
      const order: Placed = {
        orderId: `o-${placed.length + 1}`,
        sku: SKUS[placed.length % 2] ?? 'A',
        quantity: 1 + Math.floor(Math.random() * 3),
      };
      await orders.bus.execute(command(ConfirmOrder, order));
      placed.push(order);
      if (placed.length % 4 === 0) {
        // The customer changes their mind, before or after the reservation.
        customerCancels.push(
          sleep(Math.random() * 2_000).then(() =>
            orders.bus
              .execute(command(CancelOrder, { orderId: order.orderId, reason: 'customer' }))
              .catch(() => undefined),
          ),
        );
      }
      await sleep(250);
    }
    const kills = await killers;
    await Promise.all(customerCancels);
    expect(kills[0] + kills[1]).toBeGreaterThanOrEqual(2 * KILLS_PER_SERVICE);
    expect(busy.killedAfterCommits, stderr.join('').slice(-2_000)).toBeGreaterThanOrEqual(4);

    // Clean processes finish the work.
    const finishers: ServiceProcess[] = [orders.start(), inventory.start()];
    try {
      await Promise.all(finishers.map((child) => child.started(90_000)));
      const statusOf = async (orderId: string): Promise<string> =>
        (await orders.bus.load(Order, orderId)).state.status;
      const settled = async (): Promise<boolean> => {
        const stock = await countsBy(inventory.schema, `payload->>'orderId'`);
        for (const { orderId } of placed) {
          const types = stock.get(orderId);
          if (types === undefined) return false;
          const status = await statusOf(orderId);
          if (types.has('StockReservationFailed') && status !== 'cancelled') return false;
          if (status === 'cancelled' && types.has('StockReserved') && !types.has('StockReleased'))
            return false;
        }
        return true;
      };
      await waitUntil('every order reserved or cancelled', settled, 120_000);

      // Half of the reserved orders are paid; the others' deadlines must be pending.
      const paid = new Set<string>();
      for (const [index, { orderId }] of placed.entries()) {
        if ((await statusOf(orderId)) !== 'confirmed') continue;
        if (index % 2 === 0) {
          await orders.bus.execute(command(PayOrder, { orderId }));
          paid.add(orderId);
        }
      }
      const unpaid = async (): Promise<boolean> => {
        const pending = await stack
          .knex(`${orders.schema}.reactor_deadlines`)
          .where({ status: 'pending' })
          .pluck<string[]>('key');
        for (const { orderId } of placed) {
          if (paid.has(orderId) || (await statusOf(orderId)) !== 'confirmed') continue;
          if (!pending.includes(`unpaid:${orderId}`)) return false;
        }
        return true;
      };
      await waitUntil('every unpaid order to have its deadline', unpaid, 60_000);
      finishers[0]?.process.send({ advanceMs: PAYMENT_WINDOW_MS + 1_000 });
      const closed = async (): Promise<boolean> => {
        for (const { orderId } of placed) {
          if ((await statusOf(orderId)) === 'confirmed') return false;
        }
        return settled();
      };
      await waitUntil('every unpaid order cancelled by its deadline', closed, 60_000);
    } finally {
      for (const child of finishers) {
        child.process.kill('SIGTERM');
        const { code } = await child.exited;
        expect(code, child.stderr.join('').slice(-2_000)).toBe(0);
      }
    }

    // Each order: exactly one state, each effect exactly once (none lost, none repeated).
    const orderEvents = await countsBy(orders.schema, 'aggregate_id');
    const stockEvents = await countsBy(inventory.schema, `payload->>'orderId'`);
    const problems: string[] = [];
    const expectedReserved: Record<string, Record<string, number>> = { A: {}, B: {} };
    for (const { orderId, sku, quantity } of placed) {
      const status = (await orders.bus.load(Order, orderId)).state.status;
      const o = orderEvents.get(orderId) ?? new Map<string, number>();
      const s = stockEvents.get(orderId) ?? new Map<string, number>();
      const reserved = s.get('StockReserved') ?? 0;
      const failed = s.get('StockReservationFailed') ?? 0;
      const released = s.get('StockReleased') ?? 0;
      const state = `${orderId}: ${status}, order ${JSON.stringify([...o])}, stock ${JSON.stringify([...s])}`;
      if (o.get('OrderConfirmed') !== 1 || reserved + failed !== 1) problems.push(state);
      else if (status === 'paid' && (reserved !== 1 || released !== 0 || o.has('OrderCancelled')))
        problems.push(state);
      else if (status === 'cancelled' && (o.get('OrderCancelled') !== 1 || released !== reserved))
        problems.push(state);
      else if (status !== 'paid' && status !== 'cancelled') problems.push(state);
      if (status === 'paid') (expectedReserved[sku] ??= {})[orderId] = quantity;
    }
    expect(problems).toEqual([]);
    // Every path was taken: paid, cancelled after a failed reservation, released after one.
    expect(paid(expectedReserved)).toBeGreaterThan(0);
    const outcomes = [...stockEvents.values()];
    expect(outcomes.filter((types) => types.has('StockReservationFailed')).length).toBeGreaterThan(
      0,
    );
    expect(outcomes.filter((types) => types.has('StockReleased')).length).toBeGreaterThan(0);
    for (const sku of SKUS) {
      const stock = (await inventory.bus.load(Stock, sku)).state;
      const reservedUnits = Object.values(expectedReserved[sku] ?? {}).reduce((a, b) => a + b, 0);
      expect(stock.reserved, sku).toEqual(expectedReserved[sku]);
      expect(stock.available, sku).toBe(INITIAL_STOCK - reservedUnits);
    }

    // Each reservation answers its order's confirmation (causation carried across Kafka).
    const { rows: causes } = await stack.knex.raw<{ rows: { ok: boolean }[] }>(
      `select s.metadata->>'commandCausationId' = o.event_id::text as ok
         from ??.events s join ??.events o
           on o.aggregate_id = s.payload->>'orderId' and o.event_type = 'OrderConfirmed'
        where s.event_type in ('StockReserved', 'StockReservationFailed')`,
      [inventory.schema, orders.schema],
    );
    process.stderr.write(
      `shop kill test: ${placed.length} orders, ${kills[0]} + ${kills[1]} SIGKILLs (${busy.killedAfterCommits} after commits), ${paid(expectedReserved)} paid\n`,
    );
    expect(causes).toHaveLength(placed.length);
    expect(causes.filter((row) => !row.ok)).toEqual([]);
  }, 400_000);
});

function paid(reserved: Record<string, Record<string, number>>): number {
  return Object.values(reserved).reduce((n, orders) => n + Object.keys(orders).length, 0);
}
