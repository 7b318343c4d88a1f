import { CommandBus, registerTributary } from '@tributary/core';
import { InMemoryEventStore } from '@tributary/testing';
import { container } from 'tsyringe';
import { describe, expect, it } from 'vitest';
import { Account } from './account/account.js';
import { InsufficientFunds } from './account/errors.js';
import { bankUpcasters } from './account/upcasters.js';
import { BankService } from './bank-service.js';
import { ibanOf } from './iban.js';
import { bankAggregates } from './runtime.js';

const ANN = ibanOf('DE', '370400440532013000');
const BOB = ibanOf('FR', '20041010050500013M02606');

function resolveBank(): { bank: BankService; bus: CommandBus; store: InMemoryEventStore } {
  const store = new InMemoryEventStore();
  const child = container.createChildContainer();
  registerTributary(child, {
    eventStore: store,
    aggregates: bankAggregates,
    upcasters: bankUpcasters,
  });
  return { bank: child.resolve(BankService), bus: child.resolve(CommandBus), store };
}

describe('BankService from a tsyringe container', () => {
  it('is resolved with the container’s command bus injected', async () => {
    const { bank, bus, store } = resolveBank();
    expect(bank).toBeInstanceOf(BankService);

    await bank.openAccount({
      accountId: ANN,
      ownerName: 'Ann',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 10_000,
    });
    await bank.deposit({ accountId: ANN, amountCents: 4_200, currency: 'EUR' });

    // The service wrote through the same singleton bus and store the container holds.
    expect((await bus.load(Account, ANN)).state.balanceCents).toBe(4_200);
    expect(store.allEvents()).toHaveLength(2);
  });

  it('gives each child container its own bus and store', async () => {
    const first = resolveBank();
    const second = resolveBank();
    await first.bank.openAccount({
      accountId: ANN,
      ownerName: 'Ann',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 0,
    });
    expect((await first.bank.account(ANN)).status).toBe('open');
    expect((await second.bank.account(ANN)).status).toBe('unopened');
  });

  it('runs a whole transfer and reports its outcome', async () => {
    const { bank } = resolveBank();
    for (const accountId of [ANN, BOB]) {
      await bank.openAccount({
        accountId,
        ownerName: 'Owner',
        currency: 'EUR',
        dailyWithdrawalLimitCents: 50_000,
      });
    }
    await bank.deposit({ accountId: ANN, amountCents: 10_000, currency: 'EUR' });

    const outcome = await bank.transfer({
      transferId: 'tr-1',
      sourceAccountId: ANN,
      targetAccountId: BOB,
      amountCents: 2_500,
      currency: 'EUR',
      bookingDate: '2025-03-14',
    });

    expect(outcome.transfer.status).toBe('completed');
    expect(outcome.steps).toHaveLength(3);
    expect((await bank.account(ANN)).balanceCents).toBe(7_500);
    expect((await bank.account(BOB)).balanceCents).toBe(2_500);
  });

  it('passes business refusals of direct commands to the caller', async () => {
    const { bank } = resolveBank();
    await bank.openAccount({
      accountId: ANN,
      ownerName: 'Ann',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 50_000,
    });
    await expect(
      bank.withdraw({ accountId: ANN, amountCents: 1, currency: 'EUR', bookingDate: '2025-03-14' }),
    ).rejects.toBeInstanceOf(InsufficientFunds);
  });
});
