// One file on purpose: the demo's scenario is one story, told in order, whose steps share
// the accounts and transfers it creates.
import {
  command,
  type CommandResult,
  commandTypeOf,
  DomainRuleViolation,
  type EventEnvelope,
  type CommandProps,
  isTributaryError,
  ValidationError,
} from '@tributary/core';
import { Account, type AccountState } from '../account/account.js';
import {
  CloseAccount,
  DepositMoney,
  FreezeAccount,
  OpenAccount,
  UnfreezeAccount,
  WithdrawMoney,
} from '../account/commands.js';
import type { AccountOpenedV1Payload } from '../account/events.js';
import { bankUpcasters } from '../account/upcasters.js';
import { ibanOf } from '../iban.js';
import { formatCents } from '../money.js';
import type { ReadSide } from '../read-models/read-side.js';
import type { Runtime } from '../runtime.js';
import { RequestTransfer } from '../transfer/commands.js';
import type { ProcessStep } from '../transfer/transfer-process.js';
import { Transfer, type TransferState } from '../transfer/transfer.js';
import { formatTable, paint, type ScenarioOutput } from './output.js';

/** The accounts of the scenario. */
export const DEMO_ACCOUNTS = {
  ann: ibanOf('DE', '370400440532013000'),
  bob: ibanOf('FR', '20041010050500013M02606'),
  carla: ibanOf('GB', 'WEST12345698765432'),
  /** Opened by an older release, whose `AccountOpened` events are schema version 1. */
  dora: ibanOf('DE', '370400440000004242'),
} as const;

/** The transfers of the scenario. */
export const DEMO_TRANSFERS = ['tr-0001', 'tr-0002', 'tr-0003'] as const;

/** What the scenario did, for callers that check it (the e2e test). */
export interface ScenarioSummary {
  readonly accounts: Readonly<Record<string, AccountState & { readonly version: number }>>;
  readonly transfers: Readonly<Record<string, TransferState>>;
  /** Commands sent, including those sent by the transfer process. */
  readonly commands: number;
  readonly events: number;
  readonly ruleViolations: number;
  readonly validationErrors: number;
}

const COMMAND_COLUMN = 18;
const EVENT_COLUMN = 18;
const STREAM_COLUMN = 36;

/**
 * The scripted bank scenario: opens accounts, moves money, breaks rules on purpose, runs
 * transfers through the transfer process (one completes, one is refused at the source, one
 * is refused at the target and refunded), reads a legacy v1 event through its upcaster and
 * prints the resulting states. Writes to `output` only, so tests can run it in-process.
 */
export async function runBankScenario(
  runtime: Runtime,
  output: ScenarioOutput,
): Promise<ScenarioSummary> {
  const { ann, bob, carla, dora } = DEMO_ACCOUNTS;
  const counts = { commands: 0, events: 0, ruleViolations: 0, validationErrors: 0 };
  const write = (line = ''): void => {
    output.write(line);
  };

  const printEvents = (events: readonly EventEnvelope[], indent: string): void => {
    counts.events += events.length;
    for (const event of events) {
      write(
        `${indent}${paint(output, 'green', '✓')} ${paint(output, 'bold', event.eventType.padEnd(EVENT_COLUMN))} ` +
          `${`${event.aggregateType}/${event.aggregateId}`.padEnd(STREAM_COLUMN)} ` +
          `v${String(event.aggregateVersion).padEnd(3)} schema ${event.schemaVersion}  ` +
          paint(output, 'dim', JSON.stringify(event.payload)),
      );
    }
  };

  const printRejection = (error: unknown, indent: string): void => {
    if (error instanceof ValidationError) {
      counts.validationErrors += 1;
      const [headline] = error.message.split('\n');
      write(`${indent}${paint(output, 'red', '✗ invalid')}  ${headline ?? ''}`);
      for (const issue of error.issues) {
        write(`${indent}    ${issue.field.padEnd(14)} ${issue.rule.padEnd(24)} ${issue.message}`);
      }
      return;
    }
    if (error instanceof DomainRuleViolation || isTributaryError(error, 'DOMAIN_RULE_VIOLATION')) {
      counts.ruleViolations += 1;
      const violation = error as DomainRuleViolation;
      write(
        `${indent}${paint(output, 'red', '✗ refused')}  ${paint(output, 'yellow', `${violation.name} [${violation.rule}]`)} ${violation.message}`,
      );
      return;
    }
    throw error;
  };

  const printCommand = (sent: object, prefix: string): void => {
    counts.commands += 1;
    const fields = Object.entries(sent)
      .filter(([, value]) => value !== undefined)
      // Quote only strings that would otherwise run into the next field.
      .map(([field, value]) =>
        typeof value === 'string' && !/\s/.test(value)
          ? `${field}=${value}`
          : `${field}=${JSON.stringify(value)}`,
      )
      .join(' ');
    write(
      `${prefix}${paint(output, 'cyan', commandTypeOf(sent.constructor as never).padEnd(COMMAND_COLUMN))} ${fields}`,
    );
  };

  /** Sends a command, prints it and what came of it; returns the result, or undefined if refused. */
  const send = async (sent: object): Promise<CommandResult | undefined> => {
    printCommand(sent, `${paint(output, 'bold', '▶')} `);
    try {
      const result = await runtime.bus.execute(sent, { correlationId: `demo-${counts.commands}` });
      printEvents(result.events, '    ');
      return result;
    } catch (error) {
      printRejection(error, '    ');
      return undefined;
    }
  };

  const printSteps = (steps: readonly ProcessStep[]): void => {
    for (const step of steps) {
      printCommand(
        step.command,
        `  ${paint(output, 'dim', `↳ ${step.trigger.eventType.padEnd(EVENT_COLUMN)}⇒`)} `,
      );
      if (step.outcome.kind === 'handled') printEvents(step.outcome.result.events, '      ');
      else printRejection(step.outcome.violation, '      ');
    }
  };

  const transfer = async (props: CommandProps<RequestTransfer>): Promise<void> => {
    printCommand(command(RequestTransfer, props), `${paint(output, 'bold', '▶')} `);
    try {
      const outcome = await runtime.bank.transfer(props, {
        correlationId: `demo-${props.transferId}`,
      });
      printEvents(outcome.request.events, '    ');
      printSteps(outcome.steps);
      const status =
        outcome.transfer.status === 'completed'
          ? paint(output, 'green', 'completed')
          : paint(output, 'red', outcome.transfer.status);
      write(`    ⇒ transfer ${props.transferId} ${status}`);
    } catch (error) {
      printRejection(error, '    ');
    }
  };

  const section = (title: string): void => {
    write();
    write(paint(output, 'bold', `── ${title} `.padEnd(72, '─')));
  };

  write(paint(output, 'bold', `Tributary bank demo · runtime: ${runtime.kind}`));
  write(
    paint(
      output,
      'dim',
      '▶ command   ✓ event: type, stream, version, schema version, payload   ✗ rejection   ↳ sent by the transfer process',
    ),
  );

  section('Accounts are opened and used');
  await send(
    command(OpenAccount, {
      accountId: ann,
      ownerName: 'Ann Lovelace',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 50_000,
    }),
  );
  await send(
    command(OpenAccount, {
      accountId: bob,
      ownerName: 'Bob Marley',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 100_000,
    }),
  );
  await send(
    command(OpenAccount, {
      accountId: carla,
      ownerName: 'Carla Bruni',
      currency: 'GBP',
      dailyWithdrawalLimitCents: 100_000,
    }),
  );
  await send(command(DepositMoney, { accountId: ann, amountCents: 100_000, currency: 'EUR' }));
  await send(
    command(WithdrawMoney, {
      accountId: ann,
      amountCents: 20_000,
      currency: 'EUR',
      bookingDate: '2025-03-14',
    }),
  );

  section('Business rules refuse commands');
  await send(
    command(WithdrawMoney, {
      accountId: ann,
      amountCents: 40_000,
      currency: 'EUR',
      bookingDate: '2025-03-14',
    }),
  );
  await send(
    command(WithdrawMoney, {
      accountId: bob,
      amountCents: 5_000,
      currency: 'EUR',
      bookingDate: '2025-03-14',
    }),
  );
  await send(command(DepositMoney, { accountId: carla, amountCents: 10_000, currency: 'EUR' }));
  await send(
    command(OpenAccount, {
      accountId: ann,
      ownerName: 'Ann again',
      currency: 'EUR',
      dailyWithdrawalLimitCents: 0,
    }),
  );

  section('Validation rejects malformed commands before any rule runs');
  await send(
    command(DepositMoney, { accountId: 'DE00 1234', amountCents: 12.5, currency: 'EURO' }),
  );

  section('Transfers run through the transfer process');
  await transfer({
    transferId: 'tr-0001',
    sourceAccountId: ann,
    targetAccountId: bob,
    amountCents: 25_000,
    currency: 'EUR',
    bookingDate: '2025-03-14',
  });
  await send(
    command(FreezeAccount, { accountId: bob, reason: 'suspicious login from a new device' }),
  );
  await transfer({
    transferId: 'tr-0002',
    sourceAccountId: bob,
    targetAccountId: ann,
    amountCents: 10_000,
    currency: 'EUR',
    bookingDate: '2025-03-14',
  });
  await transfer({
    transferId: 'tr-0003',
    sourceAccountId: ann,
    targetAccountId: carla,
    amountCents: 30_000,
    currency: 'EUR',
    bookingDate: '2025-03-15',
  });
  await transfer({
    transferId: 'tr-0004',
    sourceAccountId: ann,
    targetAccountId: ann,
    amountCents: 100,
    currency: 'EUR',
    bookingDate: '2025-03-15',
  });

  section('Closing requires an empty account');
  await send(command(UnfreezeAccount, { accountId: bob }));
  await send(command(CloseAccount, { accountId: bob }));
  await send(
    command(WithdrawMoney, {
      accountId: bob,
      amountCents: 25_000,
      currency: 'EUR',
      bookingDate: '2025-03-15',
    }),
  );
  await send(command(CloseAccount, { accountId: bob }));
  await send(command(DepositMoney, { accountId: bob, amountCents: 100, currency: 'EUR' }));

  section('Events stored by an older release are upcast when read');
  const legacyPayload: AccountOpenedV1Payload = {
    accountId: dora,
    owner: 'Dora Brandt',
    dailyWithdrawalLimitCents: 30_000,
  };
  const legacy = await runtime.eventStore.appendToStream(
    { aggregateType: Account.type, aggregateId: dora },
    [
      {
        type: 'AccountOpened',
        schemaVersion: 1,
        data: legacyPayload,
        occurredAt: '2019-06-01T09:00:00.000Z',
      },
    ],
    { expectedVersion: 'no-stream' },
  );
  write(
    `${paint(output, 'bold', '⚙')} stored as the 2019 release did (owner was a string, euros implied):`,
  );
  printEvents(legacy.events, '    ');
  const [storedV1] = legacy.events;
  if (storedV1 !== undefined) {
    const read = bankUpcasters.upcast(storedV1);
    write(
      `  and read through the upcaster as schema ${read.schemaVersion}: ${paint(output, 'dim', JSON.stringify(read.payload))}`,
    );
  }
  await send(command(DepositMoney, { accountId: dora, amountCents: 4_200, currency: 'EUR' }));

  section('Resulting state');
  const accounts: Record<string, AccountState & { version: number }> = {};
  for (const accountId of Object.values(DEMO_ACCOUNTS)) {
    const { state, version } = await runtime.bus.load(Account, accountId);
    accounts[accountId] = { ...state, version };
  }
  const accountRows = Object.values(accounts).map((account) => [
    account.accountId,
    account.ownerName,
    account.status,
    formatCents(account.balanceCents, account.currency),
    String(account.version),
  ]);
  for (const line of formatTable(
    ['account', 'owner', 'status', 'balance', 'version'],
    accountRows,
    (cell, column) => (column === 3 ? paint(output, 'bold', cell) : cell),
  )) {
    write(`  ${line}`);
  }
  write();
  const transfers: Record<string, TransferState> = {};
  for (const transferId of DEMO_TRANSFERS) {
    transfers[transferId] = (await runtime.bus.load(Transfer, transferId)).state;
  }
  const transferRows = Object.values(transfers).map((state) => [
    state.transferId,
    formatCents(state.amountCents, state.currency),
    state.status,
    state.failureReason ?? '',
  ]);
  for (const line of formatTable(
    ['transfer', 'amount', 'status', 'reason'],
    transferRows,
    (cell, column, row) =>
      column === 2
        ? paint(output, transferRows[row]?.[2] === 'completed' ? 'green' : 'red', cell)
        : cell,
  )) {
    write(`  ${line}`);
  }
  write();
  write(
    `${counts.commands} commands (${counts.ruleViolations} refused by business rules, ${counts.validationErrors} invalid), ${counts.events} events stored.`,
  );
  if (runtime.readSide !== undefined) await printReadModels(runtime.readSide, output, write);
  return { accounts, transfers, ...counts };
}

/**
 * The query side: the same facts, read from the read models the projections built from the
 * event stream (not from the aggregates), plus the exactly-once evidence.
 */
async function printReadModels(
  readSide: ReadSide,
  output: ScenarioOutput,
  write: (line?: string) => void,
): Promise<void> {
  await readSide.catchUp();
  if (readSide.transport !== undefined) {
    write();
    write(paint(output, 'bold', 'Kafka (the outbox, captured from the WAL)'));
    const partitions = await readSide.transport();
    for (const line of formatTable(
      ['topic', 'partition', 'end offset', 'projected up to'],
      partitions.map((row) => [
        row.topic,
        String(row.partition),
        String(row.endOffset),
        String(row.storedOffset ?? '-'),
      ]),
    )) {
      write(`  ${line}`);
    }
  }
  write();
  write(paint(output, 'bold', 'Read models (projected from the event stream)'));
  const balances = await readSide.balances();
  for (const line of formatTable(
    ['account', 'owner', 'status', 'balance', 'version'],
    balances.map((row) => [
      row.accountId,
      row.ownerName,
      row.status,
      formatCents(row.balanceCents, row.currency),
      String(row.version),
    ]),
  )) {
    write(`  ${line}`);
  }
  write();
  const transfers = await readSide.transfers();
  for (const line of formatTable(
    ['transfer', 'from', 'to', 'amount', 'status', 'reason'],
    transfers.map((row) => [
      row.transferId,
      row.sourceAccountId,
      row.targetAccountId,
      formatCents(row.amountCents, row.currency),
      row.status,
      row.failureReason ?? '',
    ]),
  )) {
    write(`  ${line}`);
  }
  write();
  const applications = await readSide.applications();
  write(
    `${applications.events} events projected: ${applications.appliedOnce} applied exactly once, ${applications.appliedMoreThanOnce} more than once.`,
  );
}
