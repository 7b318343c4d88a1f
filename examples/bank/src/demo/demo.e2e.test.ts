import { describe, expect, it } from 'vitest';
import { createInMemoryRuntime, runtimeKindFrom } from '../runtime.js';
import { formatTable, recordingOutput } from './output.js';
import { DEMO_ACCOUNTS, runBankScenario } from './scenario.js';

describe('the bank demo scenario', () => {
  it('ends with the expected balances, statuses and transfers', async () => {
    const output = recordingOutput();
    const summary = await runBankScenario(createInMemoryRuntime(), output);

    const { ann, bob, carla, dora } = DEMO_ACCOUNTS;
    // Ann: 1,000 in, 200 out, 250 to Bob, 300 to Carla and back again.
    expect(summary.accounts[ann]).toMatchObject({
      status: 'open',
      balanceCents: 55_000,
      version: 6,
    });
    expect(summary.accounts[bob]).toMatchObject({ status: 'closed', balanceCents: 0 });
    expect(summary.accounts[carla]).toMatchObject({
      status: 'open',
      balanceCents: 0,
      currency: 'GBP',
    });
    // Dora's account was opened by the v1 schema: upcast to { owner: { name } } and EUR.
    expect(summary.accounts[dora]).toMatchObject({
      ownerName: 'Dora Brandt',
      currency: 'EUR',
      balanceCents: 4_200,
    });
    expect(Object.values(summary.transfers).map((transfer) => transfer.status)).toEqual([
      'completed',
      'failed',
      'failed',
    ]);
    expect(summary).toMatchObject({
      commands: 30,
      events: 21,
      ruleViolations: 9,
      validationErrors: 1,
    });
  });

  it('prints commands, events, rejections and the final state readably', async () => {
    const output = recordingOutput();
    await runBankScenario(createInMemoryRuntime(), output);
    const text = output.lines.join('\n');

    expect(output.lines[0]).toBe('Tributary bank demo · runtime: in-memory');
    expect(text).toMatch(
      /▶ OpenAccount +accountId=DE89370400440532013000 ownerName="Ann Lovelace"/,
    );
    expect(text).toMatch(/✓ AccountOpened +Account\/DE89370400440532013000 +v1 +schema 2/);
    expect(text).toContain(
      '✗ refused  InsufficientFunds [insufficient-funds] Account FR1420041010050500013M02606 has EUR 0.00, cannot withdraw EUR 50.00',
    );
    expect(text).toContain('✗ invalid  Command DepositMoney is invalid:');
    expect(text).toMatch(/amountCents +isInt +amountCents must be an integer number/);
    expect(text).toMatch(/↳ MoneyWithdrawn +⇒ DepositMoney .*transferId=tr-0003/);
    expect(text).toContain('⇒ transfer tr-0001 completed');
    expect(text).toMatch(
      /and read through the upcaster as schema 2: .*"owner":\{"name":"Dora Brandt"\}/,
    );
    expect(text).toMatch(/DE89370400440532013000 +Ann Lovelace +open +EUR 550\.00 +6/);
    expect(text).toContain(
      '30 commands (9 refused by business rules, 1 invalid), 21 events stored.',
    );
    // Recording output is uncoloured: no escape sequences leak into logs.
    expect(text).not.toContain('\u001b[');
  });
});

describe('runtime selection', () => {
  it('defaults to in-memory and switches to the stack with --stack or TRIBUTARY_RUNTIME=stack', () => {
    expect(runtimeKindFrom([], {})).toBe('in-memory');
    expect(runtimeKindFrom(['--stack'], {})).toBe('stack');
    expect(runtimeKindFrom([], { TRIBUTARY_RUNTIME: 'stack' })).toBe('stack');
  });
});

describe('formatTable', () => {
  it('aligns columns on the plain text', () => {
    expect(
      formatTable(
        ['a', 'bb'],
        [
          ['long', 'x'],
          ['s', 'yy'],
        ],
      ),
    ).toEqual(['a     bb', '────  ──', 'long  x', 's     yy']);
  });
});
