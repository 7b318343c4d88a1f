import { describe, expect, it } from 'vitest';
import { runShopDemo } from './scenario.js';

describe('the shop demo in memory', () => {
  it('paid order keeps its stock, out-of-stock and unpaid orders are cancelled, stock counts match', async () => {
    const lines: string[] = [];
    const outcome = await runShopDemo((line) => lines.push(line));
    expect(outcome.orders).toEqual({ 'o-1': 'paid', 'o-2': 'cancelled', 'o-3': 'cancelled' });
    // 5 − 2 (o-1, paid); o-2 never reserved; o-3's unit released by the deadline's cancel.
    expect(outcome.stock).toEqual({ available: 3, reserved: { 'o-1': 2 } });
    const stockLine = lines.find((line) => line.startsWith('stock A: ')) ?? '';
    expect(stockLine.slice('stock A: '.length).split(' → ').sort()).toEqual([
      'StockAdded',
      'StockReleased',
      'StockReservationFailed',
      'StockReserved',
      'StockReserved',
    ]);
    expect(
      lines.some((line) => line.startsWith('o-1 cannot') || line.includes('cannot be cancelled')),
    ).toBe(true);
    // Read-your-writes: waiting on the payment's token, the read model shows it paid; with
    // the projection stopped, the wait on o-4's token times out, typed, and o-4 is not there.
    expect(outcome.readYourWrites).toEqual({
      afterPayment: 'paid',
      timeoutCode: 'PROJECTION_CONSISTENCY_TIMEOUT',
      whileStopped: undefined,
    });
    expect(lines).toContain('order_summaries after waitFor: o-1 paid');
    // Three in-memory runtimes (two services' reactors and the orders read model) on PGlite:
    // start-up alone took 20–60 s at a load of 30–40 on the shared 2-core machine.
  }, 90_000);
});
