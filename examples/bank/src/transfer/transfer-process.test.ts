import { command, CommandBus, type EventEnvelope, ValidationError } from '@tributary/core';
import { InMemoryEventStore } from '@tributary/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { Account } from '../account/account.js';
import { CloseAccount, DepositMoney, OpenAccount } from '../account/commands.js';
import { bankUpcasters } from '../account/upcasters.js';
import { ibanOf } from '../iban.js';
import { bankAggregates } from '../runtime.js';
import { RequestTransfer } from './commands.js';
import { TransferProcessManager } from './transfer-process.js';
import { Transfer } from './transfer.js';

const ANN = ibanOf('DE', '370400440532013000');
const BOB = ibanOf('FR', '20041010050500013M02606');

let store: InMemoryEventStore;
let bus: CommandBus;
let process: TransferProcessManager;

beforeEach(async () => {
  store = new InMemoryEventStore();
  bus = new CommandBus({ eventStore: store, aggregates: bankAggregates, upcasters: bankUpcasters });
  process = new TransferProcessManager(bus);
  for (const [accountId, ownerName] of [
    [ANN, 'Ann'],
    [BOB, 'Bob'],
  ] as const) {
    await bus.execute(
      command(OpenAccount, {
        accountId,
        ownerName,
        currency: 'EUR',
        dailyWithdrawalLimitCents: 100_000,
      }),
    );
  }
  await bus.execute(
    command(DepositMoney, { accountId: ANN, amountCents: 100_000, currency: 'EUR' }),
  );
});

const requestTransfer = (transferId: string, amountCents: number) =>
  bus.execute(
    command(RequestTransfer, {
      transferId,
      sourceAccountId: ANN,
      targetAccountId: BOB,
      amountCents,
      currency: 'EUR',
      bookingDate: '2025-03-14',
    }),
    { correlationId: `request-${transferId}`, metadata: { userId: 'ann' } },
  );
const balanceOf = async (accountId: string): Promise<number> =>
  (await bus.load(Account, accountId)).state.balanceCents;
const typesOf = (events: readonly EventEnvelope[]): string[] =>
  events.map((event) => event.eventType);

describe('the transfer process on the command bus', () => {
  it('moves the money: withdraw from the source, deposit to the target, complete the transfer', async () => {
    const request = await requestTransfer('tr-1', 25_000);
    const steps = await process.drain(request.events);

    expect(steps.map((step) => step.command.constructor.name)).toEqual([
      'WithdrawMoney',
      'DepositMoney',
      'CompleteTransfer',
    ]);
    expect(steps.every((step) => step.outcome.kind === 'handled')).toBe(true);
    expect(await balanceOf(ANN)).toBe(75_000);
    expect(await balanceOf(BOB)).toBe(25_000);
    expect((await bus.load(Transfer, 'tr-1')).state.status).toBe('completed');
  });

  it('carries the correlation id through every event, with the command id as causation id', async () => {
    const request = await requestTransfer('tr-1', 25_000);
    const steps = await process.drain(request.events);

    const [requested] = request.events;
    expect(requested?.metadata).toMatchObject({
      correlationId: 'request-tr-1',
      causationId: request.commandId,
      userId: 'ann',
    });
    let trigger = requested;
    for (const step of steps) {
      // Each step was caused by the event of the step before it: a chain back to the request.
      expect(step.trigger).toBe(trigger);
      if (step.outcome.kind !== 'handled') throw new Error('expected every step to be handled');
      const [event] = step.outcome.result.events;
      expect(step.outcome.result.commandId).toBe(step.commandId);
      expect(event?.metadata).toEqual({
        correlationId: 'request-tr-1',
        causationId: step.commandId,
        commandCausationId: step.trigger.eventId,
      });
      trigger = event;
    }

    const correlated = store
      .allEvents()
      .filter(({ envelope }) => envelope.metadata.correlationId === 'request-tr-1')
      .map(({ envelope }) => `${envelope.aggregateType}/${envelope.eventType}`);
    expect(correlated).toEqual([
      'Transfer/TransferRequested',
      'Account/MoneyWithdrawn',
      'Account/MoneyDeposited',
      'Transfer/TransferCompleted',
    ]);
  });

  it('fails the transfer without moving money when the source refuses the debit', async () => {
    const request = await requestTransfer('tr-2', 100_001);
    const steps = await process.drain(request.events);

    expect(steps.map((step) => `${step.command.constructor.name}:${step.outcome.kind}`)).toEqual([
      'WithdrawMoney:rejected',
      'FailTransfer:handled',
    ]);
    const transfer = (await bus.load(Transfer, 'tr-2')).state;
    expect(transfer.status).toBe('failed');
    expect(transfer.failureReason).toBe(
      `source account refused the debit: Account ${ANN} has EUR 1,000.00, cannot withdraw EUR 1,000.01`,
    );
    expect(await balanceOf(ANN)).toBe(100_000);
    expect(await balanceOf(BOB)).toBe(0);
  });

  it('refunds the source and fails the transfer when the target refuses the credit', async () => {
    await bus.execute(command(CloseAccount, { accountId: BOB }));
    const request = await requestTransfer('tr-3', 30_000);
    const steps = await process.drain(request.events);

    expect(steps.map((step) => `${step.command.constructor.name}:${step.outcome.kind}`)).toEqual([
      'WithdrawMoney:handled',
      'DepositMoney:rejected',
      'DepositMoney:handled',
      'FailTransfer:handled',
    ]);
    expect(await balanceOf(ANN)).toBe(100_000);
    const annStream = await store.readStream({ aggregateType: 'Account', aggregateId: ANN });
    expect(typesOf(annStream.events).slice(-2)).toEqual(['MoneyWithdrawn', 'MoneyDeposited']);
    expect(annStream.events.at(-1)?.payload).toEqual({ amountCents: 30_000, transferId: 'tr-3' });
    const transfer = (await bus.load(Transfer, 'tr-3')).state;
    expect(transfer.status).toBe('failed');
    expect(transfer.failureReason).toContain(`Account ${BOB} is closed`);
    expect(transfer.failureReason).toContain('source refunded');
  });

  it('ignores events that are not part of a transfer', async () => {
    const deposit = await bus.execute(
      command(DepositMoney, { accountId: BOB, amountCents: 1, currency: 'EUR' }),
    );
    const opened = (await store.readStream({ aggregateType: 'Account', aggregateId: ANN }))
      .events[0];
    expect(opened?.eventType).toBe('AccountOpened');
    expect(await process.handle(opened as EventEnvelope)).toEqual([]);
    expect(await process.drain(deposit.events)).toEqual([]);
  });

  it('does nothing for a transfer that is settled already (a redelivered event)', async () => {
    const request = await requestTransfer('tr-4', 1_000);
    const steps = await process.drain(request.events);
    const withdrawn =
      steps[0]?.outcome.kind === 'handled' ? steps[0].outcome.result.events[0] : undefined;
    expect(withdrawn?.eventType).toBe('MoneyWithdrawn');
    expect(await process.handle(withdrawn as EventEnvelope)).toEqual([]);
    expect(await balanceOf(BOB)).toBe(1_000);
  });

  it('rethrows errors that are not business refusals, so the delivery can be retried', async () => {
    const malformed: EventEnvelope = {
      eventId: '0195a3c8-0000-7000-8000-0000000000ff',
      aggregateType: 'Transfer',
      aggregateId: 'tr-9',
      aggregateVersion: 1,
      eventType: 'TransferRequested',
      schemaVersion: 1,
      payload: {
        sourceAccountId: ANN,
        targetAccountId: BOB,
        amountCents: 1.5,
        currency: 'EUR',
        bookingDate: '2025-03-14',
      },
      metadata: {},
      occurredAt: '2025-03-14T00:00:00.000Z',
    };
    await expect(process.handle(malformed)).rejects.toBeInstanceOf(ValidationError);
  });
});
