/**
 * `npm run bench:core`: throughput and latency of the core command cycle
 * (validate → load → decide → append) on the in-memory event store, no I/O.
 *
 * Loading replays the whole stream on every command (no snapshots yet), so the cost of a
 * command grows with the length of its stream: the short-stream case spreads commands over
 * many accounts, the long-stream case piles them onto one.
 */
import { command, CommandBus } from '@tributary/core';
import { InMemoryEventStore } from '@tributary/testing';
import {
  bankAggregates,
  bankUpcasters,
  DepositMoney,
  exampleIban,
  OpenAccount,
} from '@tributary/example-bank';
import { formatTable } from '../support/table.js';

/** One measured case. */
interface BenchCase {
  readonly name: string;
  readonly accounts: number;
  readonly commands: number;
  /**
   * Events written straight to each measured stream before timing starts, so a long stream
   * is measured at its length rather than paying the quadratic cost of growing it
   * command by command.
   */
  readonly prefilledEvents: number;
  /** Whether the bus validates commands with class-validator (its default is true). */
  readonly validate: boolean;
}

/** The figures of one case. */
interface BenchResult {
  readonly benchCase: BenchCase;
  readonly commandsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly finalStreamLength: number;
  readonly rssMiB: number;
}

const WARM_UP_COMMANDS = 5_000;

const CASES: readonly BenchCase[] = [
  { name: 'short streams', accounts: 1_000, commands: 50_000, prefilledEvents: 0, validate: true },
  {
    name: 'short streams, no validation',
    accounts: 1_000,
    commands: 50_000,
    prefilledEvents: 0,
    validate: false,
  },
  { name: 'long stream', accounts: 1, commands: 1_000, prefilledEvents: 5_000, validate: true },
];

function percentile(sorted: Float64Array, fraction: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

async function openAccounts(
  bus: CommandBus,
  firstAccountNumber: number,
  count: number,
): Promise<string[]> {
  const accountIds = Array.from({ length: count }, (_, index) =>
    exampleIban(firstAccountNumber + index),
  );
  for (const accountId of accountIds) {
    await bus.execute(
      command(OpenAccount, {
        accountId,
        ownerName: 'Bench',
        currency: 'EUR',
        dailyWithdrawalLimitCents: 0,
      }),
    );
  }
  return accountIds;
}

/** Deposits `count` times round-robin over the accounts, one at a time; returns latencies. */
async function deposit(
  bus: CommandBus,
  accountIds: readonly string[],
  count: number,
): Promise<Float64Array> {
  const latencies = new Float64Array(count);
  for (let index = 0; index < count; index += 1) {
    const accountId = accountIds[index % accountIds.length] as string;
    const started = performance.now();
    await bus.execute(command(DepositMoney, { accountId, amountCents: 100, currency: 'EUR' }));
    latencies[index] = performance.now() - started;
  }
  return latencies;
}

/** Appends `count` deposits to each stream directly, in batches, bypassing the bus. */
async function prefill(
  eventStore: InMemoryEventStore,
  accountIds: readonly string[],
  count: number,
): Promise<void> {
  const batchSize = 500;
  for (const aggregateId of accountIds) {
    for (let written = 0; written < count; written += batchSize) {
      const events = Array.from({ length: Math.min(batchSize, count - written) }, () => ({
        type: 'MoneyDeposited',
        data: { amountCents: 100 },
      }));
      await eventStore.appendToStream({ aggregateType: 'Account', aggregateId }, events);
    }
  }
}

async function run(benchCase: BenchCase): Promise<BenchResult> {
  // Collect the previous case's garbage first (when node runs with --expose-gc), so its
  // heap does not inflate this case's pauses and RSS.
  (globalThis as { gc?: () => void }).gc?.();
  const eventStore = new InMemoryEventStore();
  const bus = new CommandBus({
    eventStore,
    aggregates: bankAggregates,
    upcasters: bankUpcasters,
    validate: benchCase.validate,
  });
  // Warm up on separate accounts, so the JIT has compiled the hot path but the measured
  // streams start at the same length in every case.
  const warmUpAccountIds = await openAccounts(bus, 1, 10);
  await deposit(bus, warmUpAccountIds, WARM_UP_COMMANDS);
  const accountIds = await openAccounts(bus, 100, benchCase.accounts);
  await prefill(eventStore, accountIds, benchCase.prefilledEvents);

  const started = performance.now();
  const latencies = await deposit(bus, accountIds, benchCase.commands);
  const elapsedMs = performance.now() - started;

  latencies.sort();
  const lastAccount = accountIds[0] as string;
  const { currentVersion } = await eventStore.readStream(
    { aggregateType: 'Account', aggregateId: lastAccount },
    { maxCount: 1 },
  );
  return {
    benchCase,
    commandsPerSecond: (benchCase.commands / elapsedMs) * 1_000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? Number.NaN,
    finalStreamLength: currentVersion,
    rssMiB: process.memoryUsage().rss / 1_048_576,
  };
}

async function main(): Promise<void> {
  process.stdout.write(
    `bench:core — deposits through CommandBus on InMemoryEventStore (Node ${process.version})\n` +
      `each case: ${WARM_UP_COMMANDS.toLocaleString('en-US')} warm-up commands, then the measured ones, one at a time\n\n`,
  );
  const results: BenchResult[] = [];
  for (const benchCase of CASES) results.push(await run(benchCase));
  const rows = results.map((result) => [
    result.benchCase.name,
    result.benchCase.accounts.toLocaleString('en-US'),
    result.benchCase.commands.toLocaleString('en-US'),
    result.finalStreamLength.toLocaleString('en-US'),
    Math.round(result.commandsPerSecond).toLocaleString('en-US'),
    `${(result.p50Ms * 1_000).toFixed(0)} µs`,
    `${(result.p99Ms * 1_000).toFixed(0)} µs`,
    `${result.maxMs.toFixed(1)} ms`,
    `${result.rssMiB.toFixed(0)} MiB`,
  ]);
  const header = [
    'case',
    'accounts',
    'commands',
    'events/stream at end',
    'commands/s',
    'p50',
    'p99',
    'max',
    'RSS',
  ];
  for (const line of formatTable(header, rows)) process.stdout.write(`${line}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:core failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
