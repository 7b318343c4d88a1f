/**
 * The smallest reacting service for the real-stack tests: a `Ledger` aggregate that
 * acknowledges consumed counter events (one `Acknowledged` per command, no deduplication in
 * the domain, so a repeated effect would show as a second event), the reactor that issues
 * one command per `Counter/Incremented`, and a process manager with a deadline.
 */
import { command, DomainRuleViolation, defineAggregate, type DomainEvent } from '@tributary/core';
import { defineProcessManager, defineReactor } from '../index.js';

/** Acknowledges one consumed event. */
export class Acknowledge {
  static readonly commandType = 'Acknowledge';
  ledgerId!: string;
  sourceEventId!: string;
}

/** Closes a ledger (scheduled by the process manager; refused when already closed). */
export class CloseLedger {
  static readonly commandType = 'CloseLedger';
  ledgerId!: string;
  reason!: string;
}

/** Ledger events. */
export type LedgerEvent =
  | DomainEvent<'Acknowledged', { sourceEventId: string }>
  | DomainEvent<'LedgerClosed', { reason: string }>;

/** The ledger aggregate. */
export const Ledger = defineAggregate<{ acknowledged: number; closed: boolean }, LedgerEvent>({
  type: 'Ledger',
  initialState: () => ({ acknowledged: 0, closed: false }),
  evolve: {
    Acknowledged: (state) => ({ ...state, acknowledged: state.acknowledged + 1 }),
    LedgerClosed: (state) => ({ ...state, closed: true }),
  },
})
  .handles(Acknowledge, {
    aggregateId: (cmd) => cmd.ledgerId,
    decide: (cmd) => ({ type: 'Acknowledged', data: { sourceEventId: cmd.sourceEventId } }),
  })
  .handles(CloseLedger, {
    aggregateId: (cmd) => cmd.ledgerId,
    decide: (cmd, state) => {
      if (state.closed) throw new DomainRuleViolation('ledger.closed', 'Ledger already closed');
      return { type: 'LedgerClosed', data: { reason: cmd.reason } };
    },
  });

/** The consumed events. */
export type CounterEvent = DomainEvent<'Incremented', { by: number }>;

/** One command per consumed counter event. */
export const acknowledger = defineReactor<CounterEvent>({
  name: 'acknowledger',
  events: { Counter: ['Incremented'] },
  async handle(event, ctx) {
    await ctx.execute(
      command(Acknowledge, { ledgerId: event.aggregateId, sourceEventId: event.eventId }),
    );
  },
});

/**
 * Per counter (correlated by aggregate id): counts events; schedules closing the ledger
 * `closeAfterMs` after the first event, keyed per counter, and cancels it when the counter
 * reaches `cancelAt`.
 */
export function ledgerCloser(options: { closeAfterMs: number; cancelAt: number }) {
  return defineProcessManager<CounterEvent, { seen: number }>({
    name: 'ledger_closer',
    events: { Counter: ['Incremented'] },
    correlate: (event) => event.aggregateId,
    initialState: () => ({ seen: 0 }),
    async handle(event, state, ctx) {
      const seen = state.seen + 1;
      if (seen === 1) {
        await ctx.schedule(
          command(CloseLedger, { ledgerId: event.aggregateId, reason: 'timeout' }),
          { after: options.closeAfterMs, key: `close:${event.aggregateId}` },
        );
      }
      if (seen === options.cancelAt) {
        await ctx.cancel(`close:${event.aggregateId}`);
        ctx.complete();
      }
      return { seen };
    },
  });
}
