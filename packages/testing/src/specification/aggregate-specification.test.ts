import { IsInt, IsPositive, IsString } from 'class-validator';
import {
  command,
  defineAggregate,
  DomainRuleViolation,
  ValidationError,
  type DomainEvent,
} from '@tributary/core';
import { describe, expect, it } from 'vitest';
import {
  aggregateSpec,
  SpecificationError,
  StateMutationError,
} from './aggregate-specification.js';

type WalletEvent =
  DomainEvent<'Credited', { amount: number }> | DomainEvent<'Debited', { amount: number }>;
interface Wallet {
  balance: number;
}
class Debit {
  @IsString() walletId!: string;
  @IsInt() @IsPositive() amount!: number;
}
class InsufficientFunds extends DomainRuleViolation {
  constructor(balance: number, amount: number) {
    super('InsufficientFunds', `Balance ${balance} is below ${amount}`);
  }
}

const WalletAggregate = defineAggregate<Wallet, WalletEvent>({
  type: 'Wallet',
  initialState: () => ({ balance: 0 }),
  evolve: {
    Credited: (state, { amount }) => ({ balance: state.balance + amount }),
    Debited: (state, { amount }) => ({ balance: state.balance - amount }),
  },
}).handles(Debit, {
  aggregateId: (cmd) => cmd.walletId,
  decide: (cmd, state) => {
    if (state.balance < cmd.amount) throw new InsufficientFunds(state.balance, cmd.amount);
    return { type: 'Debited', data: { amount: cmd.amount } };
  },
});

const debit = (amount: number): Debit => command(Debit, { walletId: 'w-1', amount });
const credited = (amount: number): WalletEvent => ({ type: 'Credited', data: { amount } });

describe('aggregateSpec', () => {
  it('passes when the produced events equal the expected ones', async () => {
    await aggregateSpec(WalletAggregate)
      .given([credited(10)])
      .when(debit(4))
      .then([{ type: 'Debited', data: { amount: 4 } }]);
    await aggregateSpec(WalletAggregate)
      .given([credited(10)])
      .when(debit(4))
      .thenState({ balance: 6 });
  });

  it('fails with a readable diff naming both events when the expected event is wrong', async () => {
    const error = await aggregateSpec(WalletAggregate)
      .given([credited(10)])
      .when(debit(4))
      .then([{ type: 'Debited', data: { amount: 5 } }])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpecificationError);
    const message = (error as Error).message;
    expect(message).toContain(
      'Wallet when Debit: the produced events differ from the expected ones',
    );
    expect(message).toMatch(/\+\s+amount: 4/);
    expect(message).toMatch(/-\s+amount: 5/);
  });

  it('passes thenThrows for the expected rule and fails readably for another error class', async () => {
    await aggregateSpec(WalletAggregate)
      .given([credited(1)])
      .when(debit(4))
      .thenThrows(InsufficientFunds, (error) => expect(error.message).toBe('Balance 1 is below 4'));
    const error = await aggregateSpec(WalletAggregate)
      .given([credited(1)])
      .when(debit(4))
      .thenThrows(ValidationError)
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toContain(
      'expected ValidationError, but got:\n  InsufficientFunds: Balance 1 is below 4',
    );
  });

  it('fails thenThrows when the command succeeds, listing the events', async () => {
    const error = await aggregateSpec(WalletAggregate)
      .given([credited(10)])
      .when(debit(4))
      .thenThrows(InsufficientFunds)
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toContain(
      "expected InsufficientFunds, but the command produced:\n[ { type: 'Debited', data: { amount: 4 } } ]",
    );
  });

  it('validates the command as the command bus does', async () => {
    await aggregateSpec(WalletAggregate)
      .when(debit(-3))
      .thenThrows(ValidationError, (error) =>
        expect(error.issues.map((issue) => issue.rule)).toEqual(['isPositive']),
      );
  });

  it('fails when an evolve function mutates state instead of returning a new one', async () => {
    const Mutating = defineAggregate<Wallet, WalletEvent>({
      type: 'Wallet',
      initialState: () => ({ balance: 0 }),
      evolve: {
        Credited: (state, { amount }) => {
          state.balance += amount;
          return state;
        },
        Debited: (state) => state,
      },
    }).handles(Debit, { aggregateId: (cmd) => cmd.walletId, decide: () => [] });
    const error = await aggregateSpec(Mutating)
      .given([credited(1)])
      .when(debit(1))
      .thenNothing()
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SpecificationError);
    expect(error).toBeInstanceOf(StateMutationError);
    expect((error as Error).message).toMatch(/read only property 'balance'/);
    // Names the function, the event and the rule, not "the command was rejected".
    expect((error as Error).message).toMatch(
      /^evolve mutated the state it was given while handling event Credited \(version 1\).*must not change its input: return a new state/,
    );
    expect((error as Error).message).not.toMatch(/rejected/);
  });

  it('names decide when decide mutates state, whatever the spec expected', async () => {
    const Listing = defineAggregate<{ readonly log: number[] }, WalletEvent>({
      type: 'Wallet',
      initialState: () => ({ log: [] }),
      evolve: { Credited: (state) => state, Debited: (state) => state },
    }).handles(Debit, {
      aggregateId: (cmd) => cmd.walletId,
      decide: (cmd, state) => {
        state.log.push(cmd.amount);
        return [];
      },
    });
    const error = await aggregateSpec(Listing)
      .when(debit(1))
      .thenThrows(InsufficientFunds)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StateMutationError);
    expect((error as Error).message).toMatch(
      /^decide mutated the state it was given while handling command Debit \(Cannot add property 0/,
    );
  });

  it('says to use command(Class, props) when given a plain object', async () => {
    const error = await aggregateSpec(WalletAggregate)
      .when({ walletId: 'w-1', amount: 1 })
      .thenNothing()
      .catch((caught: unknown) => caught);
    expect((error as Error).message).toMatch(
      /A plain object is not a command: create it with command\(CommandClass, props\)/,
    );
  });

  it('upcasts given events with the configured chain', async () => {
    const { UpcasterChain } = await import('@tributary/core');
    const upcasters = new UpcasterChain([
      {
        eventType: 'Credited',
        fromVersion: 1,
        upcast: (payload) => ({ amount: (payload as { cents: number }).cents / 100 }),
      },
    ]);
    const Versioned = defineAggregate<Wallet, WalletEvent>({
      type: 'Wallet',
      initialState: () => ({ balance: 0 }),
      evolve: WalletAggregate.evolve,
      schemaVersions: { Credited: 2 },
    }).handles(Debit, WalletAggregate.commands.get('Debit') as never);
    await aggregateSpec(Versioned, { upcasters })
      .given([{ type: 'Credited', data: { cents: 500 }, schemaVersion: 1 }])
      .when(debit(5))
      .thenState({ balance: 0 });
  });
});
