import { DomainRuleViolation } from '@tributary/core';

/** Source and target are the same account: the transfer would only cost fees and confusion. */
export class SameAccountTransfer extends DomainRuleViolation {
  constructor(accountId: string) {
    super('same-account-transfer', `Cannot transfer from account ${accountId} to itself`, {
      accountId,
    });
  }
}

/** A transfer with this id exists already (a repeated request, or a clashing id). */
export class TransferAlreadyRequested extends DomainRuleViolation {
  constructor(transferId: string) {
    super('transfer-already-requested', `Transfer ${transferId} was already requested`, {
      transferId,
    });
  }
}

/** Completing or failing a transfer that was never requested. */
export class TransferNotRequested extends DomainRuleViolation {
  constructor(transferId: string) {
    super('transfer-not-requested', `Transfer ${transferId} has not been requested`, {
      transferId,
    });
  }
}

/** A completed or failed transfer is final; settling it again would double-book. */
export class TransferAlreadySettled extends DomainRuleViolation {
  constructor(transferId: string, status: string) {
    super('transfer-already-settled', `Transfer ${transferId} is already ${status}`, {
      transferId,
      status,
    });
  }
}
