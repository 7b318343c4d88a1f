import { UpcasterChain, type Upcaster } from '@tributary/core';
import type { AccountOpened, AccountOpenedV1Payload } from './events.js';

/** The currency of every account opened before `AccountOpened` carried one. */
export const LEGACY_CURRENCY = 'EUR';

/**
 * `AccountOpened` v1 → v2: the owner string becomes `{ name }` and the implicit euro
 * becomes explicit. Stored events are never rewritten; they are raised on every read, so
 * `evolve` and projections only ever see the current shape.
 */
export const accountOpenedV1ToV2: Upcaster = {
  eventType: 'AccountOpened',
  fromVersion: 1,
  upcast: (payload): AccountOpened['data'] => {
    const v1 = payload as AccountOpenedV1Payload;
    if (typeof v1.owner !== 'string') {
      throw new Error(`AccountOpened v1 must have an owner string, got ${typeof v1.owner}`);
    }
    return {
      accountId: v1.accountId,
      owner: { name: v1.owner },
      currency: LEGACY_CURRENCY,
      dailyWithdrawalLimitCents: v1.dailyWithdrawalLimitCents,
    };
  },
};

/** Every upcaster of the bank's events; give it to the command bus and to specifications. */
export const bankUpcasters = new UpcasterChain([accountOpenedV1ToV2]);
