import { describe, expect, it } from 'vitest';
import {
  ConcurrencyError,
  isRetriableError,
  isTributaryError,
  TributaryError,
  ValidationError,
} from './errors.js';

describe('typed errors', () => {
  it('carry a code and a retriable flag', () => {
    const error = new ConcurrencyError({ aggregateType: 'Account', aggregateId: 'a-1' }, 3, 4);
    expect(error.code).toBe('CONCURRENCY_CONFLICT');
    expect(error.retriable).toBe(true);
    expect(error.expectedVersion).toBe(3);
    expect(error.actualVersion).toBe(4);
    expect(error.message).toBe('Stream Account/a-1 is at version 4, expected 3');
    expect(error.name).toBe('ConcurrencyError');
  });

  it('are recognised by code even when the class comes from another copy of the package', () => {
    // A structurally identical error from a duplicate install fails instanceof but not the guard.
    const foreign = Object.assign(new Error('x'), {
      isTributaryError: true,
      code: 'CONCURRENCY_CONFLICT',
      retriable: true,
    });
    expect(foreign instanceof TributaryError).toBe(false);
    expect(isTributaryError(foreign)).toBe(true);
    expect(isTributaryError(foreign, 'CONCURRENCY_CONFLICT')).toBe(true);
    expect(isTributaryError(foreign, 'VALIDATION_FAILED')).toBe(false);
    expect(isRetriableError(foreign)).toBe(true);
    expect(isTributaryError(new Error('plain'))).toBe(false);
    expect(isTributaryError(null)).toBe(false);
  });

  it('lists every field and rule of a validation failure in the message', () => {
    const error = new ValidationError('Command Deposit', [
      { field: 'amount', rule: 'isPositive', message: 'amount must be a positive number' },
      { field: 'currency', rule: 'isIn', message: 'currency must be one of EUR, USD' },
    ]);
    expect(error.retriable).toBe(false);
    expect(error.message).toContain('amount: amount must be a positive number (isPositive)');
    expect(error.message).toContain('currency: currency must be one of EUR, USD (isIn)');
  });
});
