import { defineAggregate } from '@tributary/core';
import { CompleteTransfer, FailTransfer, RequestTransfer } from './commands.js';
import {
  SameAccountTransfer,
  TransferAlreadyRequested,
  TransferAlreadySettled,
  TransferNotRequested,
} from './errors.js';
import type { TransferEvent } from './events.js';

/** Where a transfer is. `unrequested` is the state before its first event. */
export type TransferStatus = 'unrequested' | 'requested' | 'completed' | 'failed';

/** The state of one transfer, folded from its events. */
export interface TransferState {
  readonly status: TransferStatus;
  readonly transferId: string;
  readonly sourceAccountId: string;
  readonly targetAccountId: string;
  readonly amountCents: number;
  readonly currency: string;
  readonly bookingDate: string;
  /** Why it failed; `null` unless failed. */
  readonly failureReason: string | null;
}

/** The aggregate type name (stream prefix and Kafka topic suffix). */
export const TRANSFER = 'Transfer';

/** The state of a transfer before it was requested. */
export function unrequestedTransfer(): TransferState {
  return {
    status: 'unrequested',
    transferId: '',
    sourceAccountId: '',
    targetAccountId: '',
    amountCents: 0,
    currency: '',
    bookingDate: '',
    failureReason: null,
  };
}

/** Throws unless the transfer is requested and not yet settled. */
function assertPending(state: TransferState, transferId: string): void {
  if (state.status === 'unrequested') throw new TransferNotRequested(transferId);
  if (state.status !== 'requested') throw new TransferAlreadySettled(transferId, state.status);
}

/**
 * A transfer between two accounts. It records the request and the outcome; moving the money
 * is the job of the transfer process ({@link TransferProcessManager}), because each account
 * is its own aggregate and one command changes one aggregate only.
 */
export const Transfer = defineAggregate<TransferState, TransferEvent>({
  type: TRANSFER,
  initialState: unrequestedTransfer,
  evolve: {
    TransferRequested: (state, data, envelope) => ({
      ...state,
      ...data,
      status: 'requested',
      transferId: envelope.aggregateId,
    }),
    TransferCompleted: (state) => ({ ...state, status: 'completed' }),
    TransferFailed: (state, data) => ({ ...state, status: 'failed', failureReason: data.reason }),
  },
})
  .handles(RequestTransfer, {
    aggregateId: (command) => command.transferId,
    decide: (command, state) => {
      if (state.status !== 'unrequested') throw new TransferAlreadyRequested(command.transferId);
      if (command.sourceAccountId === command.targetAccountId) {
        throw new SameAccountTransfer(command.sourceAccountId);
      }
      return {
        type: 'TransferRequested',
        data: {
          sourceAccountId: command.sourceAccountId,
          targetAccountId: command.targetAccountId,
          amountCents: command.amountCents,
          currency: command.currency,
          bookingDate: command.bookingDate,
        },
      };
    },
  })
  .handles(CompleteTransfer, {
    aggregateId: (command) => command.transferId,
    decide: (command, state) => {
      assertPending(state, command.transferId);
      return { type: 'TransferCompleted', data: {} };
    },
  })
  .handles(FailTransfer, {
    aggregateId: (command) => command.transferId,
    decide: (command, state) => {
      assertPending(state, command.transferId);
      return { type: 'TransferFailed', data: { reason: command.reason } };
    },
  });
