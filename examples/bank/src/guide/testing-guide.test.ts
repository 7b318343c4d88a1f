// The code of docs/testing.md: every ```ts block of that page is a region of this file
// (checked by the last test), so the page's snippets are run by CI, not just shown.
import { readFileSync } from 'node:fs';
import { CommandBus, command, createInstrumentation, ValidationError } from '@tributary/core';
import type { CoreInstrumentationEvents } from '@tributary/core';
import {
  aggregateSpec,
  createPgliteKnex,
  InMemoryEventStore,
  InMemoryKafkaLog,
  InMemoryProjectionRuntime,
  relayEventsToLog,
  type PgliteKnex,
} from '@tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Account } from '../account/account.js';
import { DepositMoney, FreezeAccount, OpenAccount, WithdrawMoney } from '../account/commands.js';
import { AccountIsFrozen, InsufficientFunds } from '../account/errors.js';
import { bankUpcasters } from '../account/upcasters.js';
import { ibanOf } from '../iban.js';
import { accountBalancesProjection } from '../read-models/projections.js';
import { Transfer } from '../transfer/transfer.js';

const ann = ibanOf('DE', '370400440532013000');
let db: PgliteKnex;
beforeAll(async () => {
  db = await createPgliteKnex();
}, 120_000);
afterAll(async () => {
  await db.close();
});

describe('docs/testing.md', () => {
  it('aggregate specs: then, thenState, thenThrows, upcasters', async () => {
    // #region aggregate-spec
    const spec = aggregateSpec(Account, { upcasters: bankUpcasters });
    const opened = {
      type: 'AccountOpened',
      data: {
        accountId: ann,
        owner: { name: 'Ann' },
        currency: 'EUR',
        dailyWithdrawalLimitCents: 500,
      },
    } as const;
    const withdraw = (amountCents: number) =>
      command(WithdrawMoney, {
        accountId: ann,
        amountCents,
        currency: 'EUR',
        bookingDate: '2026-01-02',
      });
    const freeze = () => command(FreezeAccount, { accountId: ann, reason: 'audit' });

    // then: the events the command produces (type and data, in order)
    await spec
      .given([opened, { type: 'MoneyDeposited', data: { amountCents: 1_000 } }])
      .when(withdraw(300))
      .then([{ type: 'MoneyWithdrawn', data: { amountCents: 300, bookingDate: '2026-01-02' } }]);
    // thenState: the state after the given and the produced events
    await spec
      .given([opened, { type: 'MoneyDeposited', data: { amountCents: 1_000 } }])
      .when(withdraw(300))
      .thenState({
        status: 'open',
        accountId: ann,
        ownerName: 'Ann',
        currency: 'EUR',
        balanceCents: 700,
        dailyWithdrawalLimitCents: 500,
        withdrawnOnLastBookingDate: { bookingDate: '2026-01-02', amountCents: 300 },
        freezeReason: null,
      });
    // thenThrows with the rule's own class: freezing a frozen account
    await spec
      .given([opened, { type: 'AccountFrozen', data: { reason: 'audit' } }])
      .when(freeze())
      .thenThrows(AccountIsFrozen);
    // thenThrows: a business rule (typed error class) or validation rejected the command
    await spec.given([opened]).when(withdraw(300)).thenThrows(InsufficientFunds);
    await spec
      .given([opened])
      .when(withdraw(-1))
      .thenThrows(ValidationError, (error) => {
        expect(error.issues.map((issue) => issue.field)).toContain('amountCents');
      });
    // given an older schema version: the upcasters run first, as when the bus loads a stream
    await spec
      .given([
        {
          type: 'AccountOpened',
          schemaVersion: 1,
          data: { accountId: ann, owner: 'Ann', dailyWithdrawalLimitCents: 500 },
        },
      ])
      .when(command(DepositMoney, { accountId: ann, amountCents: 5, currency: 'EUR' }))
      .then([{ type: 'MoneyDeposited', data: { amountCents: 5 } }]);
    // #endregion aggregate-spec
  });

  it('the whole flow in memory, with instrumentation events', async () => {
    // #region whole-flow
    // Write side: the in-memory event store behind the real command bus.
    const store = new InMemoryEventStore();
    const instrumentation = createInstrumentation<CoreInstrumentationEvents>();
    const handled: string[] = [];
    instrumentation.on('command.handled', (event) =>
      handled.push(`${event.commandType} → v${event.version}`),
    );
    const bus = new CommandBus({
      eventStore: store,
      aggregates: [Account, Transfer],
      upcasters: bankUpcasters,
      instrumentation,
    });

    // The capturer's stand-in: every append becomes one transaction on the in-memory log.
    const log = new InMemoryKafkaLog();
    const relay = relayEventsToLog(store, log, { partitions: 2 });

    // Read side: the real applier on the log, into the embedded PostgreSQL.
    const projections = new InMemoryProjectionRuntime({
      log,
      knex: db.knex,
      projections: [accountBalancesProjection],
      upcasters: bankUpcasters,
      config: { schema: 'guide_rt', readModelSchema: 'guide_rm' },
    });
    const batches: number[] = [];
    projections.instrumentation.on('projection.batch.committed', (batch) =>
      batches.push(batch.applied),
    );
    await projections.start();

    await bus.execute(
      command(OpenAccount, {
        accountId: ann,
        ownerName: 'Ann',
        currency: 'EUR',
        dailyWithdrawalLimitCents: 500,
      }),
    );
    const deposited = await bus.execute(
      command(DepositMoney, { accountId: ann, amountCents: 1_000, currency: 'EUR' }),
    );
    await relay.flush();
    // Read-your-writes: resolves once the read model shows the deposit (here it also runs
    // the in-memory runtime; on Kafka the runtime runs by itself and this only waits).
    await projections.waitFor('account_balances', deposited.consistencyToken, { timeoutMs: 5_000 });
    expect(await projections.runUntilIdle()).toMatchObject({ applied: 0, waitingForTopics: [] });

    expect(handled).toEqual(['OpenAccount → v1', 'DepositMoney → v2']);
    expect(batches.reduce((sum, applied) => sum + applied, 0)).toBe(2);
    const [row] = await db.knex('guide_rm.account_balances').select('balance_cents');
    expect(row).toEqual({ balance_cents: '1000' }); // bigint arrives as a string, as from pg
    await relay.stop();
    await projections.stop();
    // #endregion whole-flow
  });

  it('every ```ts block of docs/testing.md is a region of this file', () => {
    // Layout-insensitive: prettier wraps the page's blocks at a different width.
    const normalize = (code: string) => code.replace(/,(\s*[)\]}])/g, '$1').replace(/\s+/g, '');
    const source = normalize(readFileSync(new URL(import.meta.url), 'utf8'));
    const page = readFileSync(new URL('../../../../docs/testing.md', import.meta.url), 'utf8');
    const blocks = [...page.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const block of blocks) expect(source).toContain(normalize(block));
  });
});
