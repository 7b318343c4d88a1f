import {
  command,
  CommandBus,
  type CoreInstrumentationEvents,
  createInstrumentation,
} from '@tributary/core';
import { InMemoryEventStore } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { Account } from './account/account.js';
import { DepositMoney, OpenAccount } from './account/commands.js';
import { bankUpcasters } from './account/upcasters.js';
import { ibanOf } from './iban.js';
import { bankAggregates } from './runtime.js';

const ACCOUNT_ID = ibanOf('DE', '370400440532013000');

describe('concurrent commands on one account', () => {
  it('applies 20 concurrent deposits exactly once each, retrying on version conflicts', async () => {
    const store = new InMemoryEventStore();
    const instrumentation = createInstrumentation<CoreInstrumentationEvents>();
    const retries: number[] = [];
    instrumentation.on('command.retried', ({ attempt }) => retries.push(attempt));
    // The bus's default retry settings: what an application gets without tuning.
    const bus = new CommandBus({
      eventStore: store,
      aggregates: bankAggregates,
      upcasters: bankUpcasters,
      instrumentation,
    });
    await bus.execute(
      command(OpenAccount, {
        accountId: ACCOUNT_ID,
        ownerName: 'Ann',
        currency: 'EUR',
        dailyWithdrawalLimitCents: 0,
      }),
    );

    const amounts = Array.from({ length: 20 }, (_, index) => (index + 1) * 100);
    const results = await Promise.all(
      amounts.map((amountCents) =>
        bus.execute(command(DepositMoney, { accountId: ACCOUNT_ID, amountCents, currency: 'EUR' })),
      ),
    );

    // All started from the same version, so all but one had to decide again at least once.
    expect(results.filter((result) => result.attempts > 1).length).toBeGreaterThanOrEqual(19);
    expect(retries.length).toBeGreaterThanOrEqual(19);
    const { state, version } = await bus.load(Account, ACCOUNT_ID);
    expect(state.balanceCents).toBe(amounts.reduce((sum, amount) => sum + amount, 0));
    expect(version).toBe(21);
    const { events } = await store.readStream({
      aggregateType: 'Account',
      aggregateId: ACCOUNT_ID,
    });
    expect(events.map((event) => event.aggregateVersion)).toEqual(
      Array.from({ length: 21 }, (_, index) => index + 1),
    );
    // Each deposit is stored once: no retry wrote twice, none got lost.
    const stored = events
      .slice(1)
      .map((event) => (event.payload as { amountCents: number }).amountCents);
    expect(stored.sort((a, b) => a - b)).toEqual(amounts);
    expect(results.map((result) => result.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, index) => index + 2),
    );
  });
});
