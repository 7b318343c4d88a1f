import {
  command,
  type CommandBus,
  type CommandClass,
  type CommandProps,
  type CommandResult,
  DomainRuleViolation,
  type EventEnvelope,
  type IdGenerator,
  isTributaryError,
  uuidV7,
} from '@tributary/core';
import { ACCOUNT } from '../account/account.js';
import { DepositMoney, WithdrawMoney } from '../account/commands.js';
import type { MoneyDeposited, MoneyWithdrawn } from '../account/events.js';
import { CompleteTransfer, FailTransfer } from './commands.js';
import type { TransferRequested } from './events.js';
import { Transfer, TRANSFER, type TransferState } from './transfer.js';

/** What happened to one command the process sent. */
export type ProcessStepOutcome =
  | { readonly kind: 'handled'; readonly result: CommandResult }
  | { readonly kind: 'rejected'; readonly violation: DomainRuleViolation };

/** One command sent by the transfer process, the event that caused it, and its outcome. */
export interface ProcessStep {
  /** The event the process reacted to. */
  readonly trigger: EventEnvelope;
  readonly command: object;
  /** The id the command was sent with: the `causationId` of the events it produced. */
  readonly commandId: string;
  readonly outcome: ProcessStepOutcome;
}

/** Options of {@link TransferProcessManager}. */
export interface TransferProcessManagerOptions {
  /** Generates command ids. Default UUID v7. */
  readonly idGenerator?: IdGenerator;
}

/**
 * The transfer process (a process manager, or saga): reacts to events and sends the next
 * command, because a transfer changes three aggregates and one command may change only one.
 *
 * ```
 * TransferRequested ──▶ WithdrawMoney(source) ──refused──▶ FailTransfer
 * MoneyWithdrawn    ──▶ DepositMoney(target)  ──refused──▶ DepositMoney(source, refund) + FailTransfer
 * MoneyDeposited    ──▶ CompleteTransfer          (only for the target's deposit)
 * ```
 *
 * Every command carries the trigger's `correlationId`, so the whole transfer shares one id
 * with the request, and a fresh `commandId`, which the bus stores as the `causationId` of
 * the events it produces. The trigger's event id is the command's `causationId`, which the
 * bus keeps as `commandCausationId`, so the chain event → command → event can be followed in
 * the store alone.
 *
 * It holds no state of its own: what it needs to know it loads from the Transfer aggregate.
 * Business refusals (a {@link DomainRuleViolation}) are part of the process and lead to
 * compensation; any other error is rethrown, so the delivering runtime retries the event.
 */
export class TransferProcessManager {
  readonly #bus: CommandBus;
  readonly #idGenerator: IdGenerator;

  constructor(bus: CommandBus, options: TransferProcessManagerOptions = {}) {
    this.#bus = bus;
    this.#idGenerator = options.idGenerator ?? uuidV7;
  }

  /** Reacts to one event; returns the commands it sent, in order. Ignores unrelated events. */
  async handle(event: EventEnvelope): Promise<readonly ProcessStep[]> {
    if (event.aggregateType === TRANSFER && event.eventType === 'TransferRequested') {
      return this.#onTransferRequested(
        event as EventEnvelope<'TransferRequested', TransferRequested['data']>,
      );
    }
    if (event.aggregateType === ACCOUNT && event.eventType === 'MoneyWithdrawn') {
      return this.#onMoneyWithdrawn(
        event as EventEnvelope<'MoneyWithdrawn', MoneyWithdrawn['data']>,
      );
    }
    if (event.aggregateType === ACCOUNT && event.eventType === 'MoneyDeposited') {
      return this.#onMoneyDeposited(
        event as EventEnvelope<'MoneyDeposited', MoneyDeposited['data']>,
      );
    }
    return [];
  }

  /**
   * Reacts to `events` and then to the events of its own commands, until the process has
   * nothing left to do. This is how the in-memory runtime delivers events; on the real stack
   * a Kafka consumer calls {@link handle} per record instead.
   */
  async drain(events: readonly EventEnvelope[]): Promise<readonly ProcessStep[]> {
    const pending = [...events];
    const steps: ProcessStep[] = [];
    for (let event = pending.shift(); event !== undefined; event = pending.shift()) {
      for (const step of await this.handle(event)) {
        steps.push(step);
        if (step.outcome.kind === 'handled') pending.push(...step.outcome.result.events);
      }
    }
    return steps;
  }

  async #onTransferRequested(
    event: EventEnvelope<'TransferRequested', TransferRequested['data']>,
  ): Promise<ProcessStep[]> {
    const transfer = event.payload;
    const withdrawal = await this.#send(event, WithdrawMoney, {
      accountId: transfer.sourceAccountId,
      amountCents: transfer.amountCents,
      currency: transfer.currency,
      bookingDate: transfer.bookingDate,
      transferId: event.aggregateId,
    });
    if (withdrawal.outcome.kind === 'handled') return [withdrawal];
    const failure = await this.#send(event, FailTransfer, {
      transferId: event.aggregateId,
      reason: `source account refused the debit: ${withdrawal.outcome.violation.message}`,
    });
    return [withdrawal, failure];
  }

  async #onMoneyWithdrawn(
    event: EventEnvelope<'MoneyWithdrawn', MoneyWithdrawn['data']>,
  ): Promise<ProcessStep[]> {
    const transfer = await this.#pendingTransfer(event.payload.transferId);
    if (transfer === undefined || transfer.sourceAccountId !== event.aggregateId) return [];
    const deposit = await this.#send(event, DepositMoney, {
      accountId: transfer.targetAccountId,
      amountCents: transfer.amountCents,
      currency: transfer.currency,
      transferId: transfer.transferId,
    });
    if (deposit.outcome.kind === 'handled') return [deposit];
    // The source was debited already: give the money back before recording the failure, so
    // that a failed transfer never leaves money in limbo. Deposits are accepted on frozen
    // accounts for exactly this reason.
    const refund = await this.#send(event, DepositMoney, {
      accountId: transfer.sourceAccountId,
      amountCents: transfer.amountCents,
      currency: transfer.currency,
      transferId: transfer.transferId,
    });
    const failure = await this.#send(event, FailTransfer, {
      transferId: transfer.transferId,
      reason: `target account refused the credit: ${deposit.outcome.violation.message}; source refunded`,
    });
    return [deposit, refund, failure];
  }

  async #onMoneyDeposited(
    event: EventEnvelope<'MoneyDeposited', MoneyDeposited['data']>,
  ): Promise<ProcessStep[]> {
    const transfer = await this.#pendingTransfer(event.payload.transferId);
    // A deposit into the source is the refund of a failed transfer: nothing more to do.
    if (transfer === undefined || transfer.targetAccountId !== event.aggregateId) return [];
    return [await this.#send(event, CompleteTransfer, { transferId: transfer.transferId })];
  }

  async #pendingTransfer(transferId: string | undefined): Promise<TransferState | undefined> {
    if (transferId === undefined) return undefined;
    const { state } = await this.#bus.load(Transfer, transferId);
    return state.status === 'requested' ? state : undefined;
  }

  async #send<C extends object>(
    trigger: EventEnvelope,
    commandClass: CommandClass<C>,
    props: CommandProps<C>,
  ): Promise<ProcessStep> {
    const sent = command(commandClass, props);
    const commandId = this.#idGenerator();
    try {
      const result = await this.#bus.execute(sent, {
        commandId,
        correlationId: trigger.metadata.correlationId ?? trigger.eventId,
        causationId: trigger.eventId,
      });
      return { trigger, command: sent, commandId, outcome: { kind: 'handled', result } };
    } catch (error) {
      if (
        error instanceof DomainRuleViolation ||
        isTributaryError(error, 'DOMAIN_RULE_VIOLATION')
      ) {
        return {
          trigger,
          command: sent,
          commandId,
          outcome: { kind: 'rejected', violation: error as DomainRuleViolation },
        };
      }
      throw error;
    }
  }
}
