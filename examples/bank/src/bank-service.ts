import 'reflect-metadata';
import {
  command,
  CommandBus,
  type CommandContext,
  type CommandProps,
  type CommandResult,
} from '@tributary/core';
import { inject, injectable } from 'tsyringe';
import { Account, type AccountState } from './account/account.js';
import {
  CloseAccount,
  DepositMoney,
  FreezeAccount,
  OpenAccount,
  UnfreezeAccount,
  WithdrawMoney,
} from './account/commands.js';
import { RequestTransfer } from './transfer/commands.js';
import { type ProcessStep, TransferProcessManager } from './transfer/transfer-process.js';
import { Transfer, type TransferState } from './transfer/transfer.js';

/** The outcome of {@link BankService.transfer}. */
export interface TransferOutcome {
  /** The result of `RequestTransfer` itself. */
  readonly request: CommandResult<TransferState>;
  /** The commands the transfer process sent afterwards, in order. */
  readonly steps: readonly ProcessStep[];
  /** The transfer when the process had nothing left to do: completed or failed. */
  readonly transfer: TransferState;
}

/**
 * The bank's application service: what an HTTP controller or a CLI would call. It turns
 * plain data into commands and runs transfers through the {@link TransferProcessManager}.
 *
 * Resolved from a tsyringe container prepared with `registerTributary`. The bus is injected
 * with an explicit token, so it also resolves under tsx/esbuild, which emit no decorator
 * metadata.
 */
@injectable()
export class BankService {
  readonly #bus: CommandBus;
  readonly #transfers: TransferProcessManager;

  constructor(@inject(CommandBus) bus: CommandBus) {
    this.#bus = bus;
    this.#transfers = new TransferProcessManager(bus);
  }

  /** Opens an account. */
  openAccount(
    props: CommandProps<OpenAccount>,
    context?: CommandContext,
  ): Promise<CommandResult<AccountState>> {
    return this.#bus.execute(command(OpenAccount, props), context);
  }

  /** Pays money into an account. */
  deposit(
    props: CommandProps<DepositMoney>,
    context?: CommandContext,
  ): Promise<CommandResult<AccountState>> {
    return this.#bus.execute(command(DepositMoney, props), context);
  }

  /** Takes money out of an account. */
  withdraw(
    props: CommandProps<WithdrawMoney>,
    context?: CommandContext,
  ): Promise<CommandResult<AccountState>> {
    return this.#bus.execute(command(WithdrawMoney, props), context);
  }

  /** Blocks withdrawals from an account. */
  freeze(
    props: CommandProps<FreezeAccount>,
    context?: CommandContext,
  ): Promise<CommandResult<AccountState>> {
    return this.#bus.execute(command(FreezeAccount, props), context);
  }

  /** Allows withdrawals again. */
  unfreeze(
    props: CommandProps<UnfreezeAccount>,
    context?: CommandContext,
  ): Promise<CommandResult<AccountState>> {
    return this.#bus.execute(command(UnfreezeAccount, props), context);
  }

  /** Closes an empty account. */
  close(
    props: CommandProps<CloseAccount>,
    context?: CommandContext,
  ): Promise<CommandResult<AccountState>> {
    return this.#bus.execute(command(CloseAccount, props), context);
  }

  /**
   * Requests a transfer and runs the transfer process to its end. A refused debit or credit
   * does not throw: the transfer ends `failed` with the reason. Invalid requests and rule
   * violations of the request itself (e.g. same account) do throw.
   */
  async transfer(
    props: CommandProps<RequestTransfer>,
    context?: CommandContext,
  ): Promise<TransferOutcome> {
    const request = await this.#bus.execute<TransferState>(
      command(RequestTransfer, props),
      context,
    );
    const steps = await this.#transfers.drain(request.events);
    const { state } = await this.#bus.load(Transfer, props.transferId);
    return { request, steps, transfer: state };
  }

  /** The current state of an account (`unopened` when it does not exist). */
  async account(accountId: string): Promise<AccountState> {
    return (await this.#bus.load(Account, accountId)).state;
  }

  /** The current state of a transfer (`unrequested` when it does not exist). */
  async transferState(transferId: string): Promise<TransferState> {
    return (await this.#bus.load(Transfer, transferId)).state;
  }
}
