import { command, ValidationError } from '@tributary/core';
import { aggregateSpec } from '@tributary/testing';
import { describe, expect, it } from 'vitest';
import { ibanOf } from '../iban.js';
import { CompleteTransfer, FailTransfer, RequestTransfer } from './commands.js';
import {
  SameAccountTransfer,
  TransferAlreadyRequested,
  TransferAlreadySettled,
  TransferNotRequested,
} from './errors.js';
import type { TransferEvent } from './events.js';
import { Transfer } from './transfer.js';

const SOURCE = ibanOf('DE', '370400440532013000');
const TARGET = ibanOf('FR', '20041010050500013M02606');
const spec = aggregateSpec(Transfer);

const request = (overrides: Partial<RequestTransfer> = {}): RequestTransfer =>
  command(RequestTransfer, {
    transferId: 'tr-1',
    sourceAccountId: SOURCE,
    targetAccountId: TARGET,
    amountCents: 25_000,
    currency: 'EUR',
    bookingDate: '2025-03-14',
    ...overrides,
  });
const requested: TransferEvent = {
  type: 'TransferRequested',
  data: {
    sourceAccountId: SOURCE,
    targetAccountId: TARGET,
    amountCents: 25_000,
    currency: 'EUR',
    bookingDate: '2025-03-14',
  },
};
const completed: TransferEvent = { type: 'TransferCompleted', data: {} };
const failed: TransferEvent = { type: 'TransferFailed', data: { reason: 'target closed' } };

const failedRules = (error: ValidationError): string[] =>
  error.issues.map((issue) => `${issue.field}:${issue.rule}`).sort();

describe('RequestTransfer', () => {
  it('records the request', async () => {
    await spec.when(request()).then([requested]);
  });

  it('results in a requested transfer named by its id', async () => {
    await spec.when(request()).thenState({
      status: 'requested',
      transferId: 'tr-1',
      sourceAccountId: SOURCE,
      targetAccountId: TARGET,
      amountCents: 25_000,
      currency: 'EUR',
      bookingDate: '2025-03-14',
      failureReason: null,
    });
  });

  it('refuses a transfer from an account to itself', async () => {
    await spec
      .when(request({ targetAccountId: SOURCE }))
      .thenThrows(SameAccountTransfer, (error) => {
        expect(error.rule).toBe('same-account-transfer');
        expect(error.message).toBe(`Cannot transfer from account ${SOURCE} to itself`);
      });
  });

  it('refuses a second request with the same id', async () => {
    await spec
      .given([requested])
      .when(request())
      .thenThrows(TransferAlreadyRequested, (error) => {
        expect(error.rule).toBe('transfer-already-requested');
      });
  });

  it('rejects a bad id, bad IBANs, a zero amount, an unknown currency and a bad date', async () => {
    await spec
      .when(
        request({
          transferId: 'transfer one',
          sourceAccountId: 'nope',
          targetAccountId: 'DE00',
          amountCents: 0,
          currency: 'XYZ',
          bookingDate: '14.03.2025',
        }),
      )
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual([
          'amountCents:isPositive',
          'bookingDate:isIso8601',
          'bookingDate:matches',
          'currency:isISO4217CurrencyCode',
          'sourceAccountId:isIBAN',
          'targetAccountId:isIBAN',
          'transferId:matches',
        ]);
      });
  });
});

describe('CompleteTransfer', () => {
  const complete = command(CompleteTransfer, { transferId: 'tr-1' });

  it('completes a requested transfer', async () => {
    await spec.given([requested]).when(complete).then([completed]);
  });

  it('refuses a transfer that was never requested', async () => {
    await spec.when(complete).thenThrows(TransferNotRequested, (error) => {
      expect(error.rule).toBe('transfer-not-requested');
    });
  });

  it('refuses a transfer that is settled already', async () => {
    await spec
      .given([requested, completed])
      .when(complete)
      .thenThrows(TransferAlreadySettled, (error) => {
        expect(error.message).toBe('Transfer tr-1 is already completed');
      });
    await spec.given([requested, failed]).when(complete).thenThrows(TransferAlreadySettled);
  });

  it('rejects a malformed transfer id', async () => {
    await spec
      .when(command(CompleteTransfer, { transferId: 'tr_1' }))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['transferId:matches']);
      });
  });
});

describe('FailTransfer', () => {
  const fail = command(FailTransfer, { transferId: 'tr-1', reason: 'target closed' });

  it('fails a requested transfer with its reason', async () => {
    await spec.given([requested]).when(fail).then([failed]);
  });

  it('keeps the reason in the state', async () => {
    await spec.given([requested]).when(fail).thenState({
      status: 'failed',
      transferId: 'tr-1',
      sourceAccountId: SOURCE,
      targetAccountId: TARGET,
      amountCents: 25_000,
      currency: 'EUR',
      bookingDate: '2025-03-14',
      failureReason: 'target closed',
    });
  });

  it('refuses a transfer that was never requested or is settled already', async () => {
    await spec.when(fail).thenThrows(TransferNotRequested);
    await spec
      .given([requested, completed])
      .when(fail)
      .thenThrows(TransferAlreadySettled, (error) => {
        expect(error.details).toMatchObject({ status: 'completed' });
      });
  });

  it('requires a reason', async () => {
    await spec
      .when(command(FailTransfer, { transferId: 'tr-1', reason: '' }))
      .thenThrows(ValidationError, (error) => {
        expect(failedRules(error)).toEqual(['reason:isNotEmpty']);
      });
  });
});
