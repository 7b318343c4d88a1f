/**
 * The part of the event store contract that the command bus relies on for idempotent
 * commands: a command id executed again — a client retry after a lost reply, a racing
 * duplicate, a new process — returns the original result and appends nothing. Run by
 * `describeEventStoreContract`, so both stores are held to it.
 */
import {
  command,
  CommandBus,
  DomainRuleViolation,
  defineAggregate,
  isTributaryError,
  uuidV7,
  type DomainEvent,
  type EventStore,
} from '@tributary/core';
import { describe, expect, it } from 'vitest';

type TabEvent =
  | DomainEvent<'TabOpened', { owner: string }>
  | DomainEvent<'ItemAdded', { amount: number }>
  | DomainEvent<'TabBroken', Record<string, never>>;
interface TabState {
  readonly open: boolean;
  readonly total: number;
}

class OpenTab {
  static readonly commandType = 'OpenTab';
  tabId!: string;
  owner!: string;
}
class AddToTab {
  static readonly commandType = 'AddToTab';
  tabId!: string;
  amount!: number;
}
class BreakTab {
  static readonly commandType = 'BreakTab';
  tabId!: string;
}

const Tab = defineAggregate<TabState, TabEvent>({
  type: 'Tab',
  initialState: () => ({ open: false, total: 0 }),
  evolve: {
    TabOpened: (state) => ({ ...state, open: true }),
    ItemAdded: (state, { amount }) => ({ ...state, total: state.total + amount }),
    TabBroken: () => {
      throw new Error('evolve cannot fold TabBroken');
    },
  },
})
  .handles(OpenTab, {
    aggregateId: (cmd) => cmd.tabId,
    decide: (cmd, state) => {
      if (state.open) throw new DomainRuleViolation('TabAlreadyOpen', 'The tab is open already');
      return { type: 'TabOpened', data: { owner: cmd.owner } };
    },
  })
  .handles(AddToTab, {
    aggregateId: (cmd) => cmd.tabId,
    decide: (cmd) => (cmd.amount === 0 ? [] : { type: 'ItemAdded', data: { amount: cmd.amount } }),
  })
  .handles(BreakTab, {
    aggregateId: (cmd) => cmd.tabId,
    decide: () => ({ type: 'TabBroken', data: {} }),
  });

/** Registers the idempotent-command tests for the store `getStore()` returns. */
export function describeIdempotentCommands(getStore: () => EventStore): void {
  describe('idempotent commands through the command bus', () => {
    const bus = (): CommandBus =>
      new CommandBus({ eventStore: getStore(), aggregates: [Tab], validate: false });
    const freshTab = (): string => `tab-${uuidV7()}`;
    const stream = (tabId: string) => ({ aggregateType: 'Tab', aggregateId: tabId });

    it('executing the same command id again returns the original result and appends nothing, even where decide would now refuse', async () => {
      const tabId = freshTab();
      const commandId = `cmd-${uuidV7()}`;
      const first = await bus().execute(command(OpenTab, { tabId, owner: 'Ann' }), { commandId });
      // A second process (a new bus), and a command that decide would now reject.
      const again = await bus().execute(command(OpenTab, { tabId, owner: 'Ann' }), { commandId });
      expect(again.commandId).toBe(commandId);
      expect(again.version).toBe(first.version);
      expect(again.state).toEqual(first.state);
      expect(again.events.map((event) => event.eventId)).toEqual(
        first.events.map((event) => event.eventId),
      );
      expect((await getStore().readStream(stream(tabId))).currentVersion).toBe(1);
    });

    it('returns the original events, version and state after other commands moved the stream', async () => {
      const tabId = freshTab();
      const commandId = `cmd-${uuidV7()}`;
      await bus().execute(command(OpenTab, { tabId, owner: 'Bo' }));
      const first = await bus().execute(command(AddToTab, { tabId, amount: 5 }), { commandId });
      await bus().execute(command(AddToTab, { tabId, amount: 7 }));
      const again = await bus().execute(command(AddToTab, { tabId, amount: 5 }), { commandId });
      expect(again).toMatchObject({ version: 2, state: { open: true, total: 5 } });
      expect(again.events).toEqual(first.events);
      expect((await getStore().readStream(stream(tabId))).currentVersion).toBe(3);
    });

    it('records a command that decided nothing, so its retry decides nothing either', async () => {
      const tabId = freshTab();
      const commandId = `cmd-${uuidV7()}`;
      await bus().execute(command(OpenTab, { tabId, owner: 'Cy' }));
      const first = await bus().execute(command(AddToTab, { tabId, amount: 0 }), { commandId });
      expect(first).toMatchObject({ version: 1, events: [] });
      await bus().execute(command(AddToTab, { tabId, amount: 2 }));
      const again = await bus().execute(command(AddToTab, { tabId, amount: 0 }), { commandId });
      expect(again).toMatchObject({ version: 1, events: [], state: { total: 0 } });
    });

    it('lets exactly one of racing duplicates append; every one returns the same result without error', async () => {
      const tabId = freshTab();
      const commandId = `cmd-${uuidV7()}`;
      await bus().execute(command(OpenTab, { tabId, owner: 'Di' }));
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          bus().execute(command(AddToTab, { tabId, amount: 4 }), { commandId }),
        ),
      );
      const ids = results[0]?.events.map((event) => event.eventId);
      expect(ids).toHaveLength(1);
      for (const result of results) {
        expect(result).toMatchObject({ version: 2, state: { total: 4 } });
        expect(result.events.map((event) => event.eventId)).toEqual(ids);
      }
      const { events } = await getStore().readStream(stream(tabId));
      expect(events.map((event) => event.eventType)).toEqual(['TabOpened', 'ItemAdded']);
    });

    it('refuses a command id already used for another aggregate with COMMAND_ID_REUSED', async () => {
      const commandId = `cmd-${uuidV7()}`;
      await bus().execute(command(OpenTab, { tabId: freshTab(), owner: 'Ed' }), { commandId });
      const other = freshTab();
      const error = await bus()
        .execute(command(OpenTab, { tabId: other, owner: 'Ed' }), { commandId })
        .catch((caught: unknown) => caught);
      expect(isTributaryError(error, 'COMMAND_ID_REUSED'), String(error)).toBe(true);
      expect((await getStore().readStream(stream(other))).currentVersion).toBe(0);
    });

    it('fails a command whose events evolve cannot fold with nothing stored, so a failure never hides stored events', async () => {
      const tabId = freshTab();
      await bus().execute(command(OpenTab, { tabId, owner: 'Flo' }));
      await expect(
        bus().execute(command(BreakTab, { tabId }), { commandId: `cmd-${uuidV7()}` }),
      ).rejects.toThrow(/cannot fold TabBroken/);
      const { events } = await getStore().readStream(stream(tabId));
      expect(events.map((event) => event.eventType)).toEqual(['TabOpened']);
    });
  });
}
