/**
 * The faults of the matrix (issue #11, "Faults of the servers around us"). Each injects a
 * fault while capture, the projection runtime and the writers run, and heals it.
 */
import type { ChildExit } from '../harness/children.js';
import type { Fault, ScenarioContext } from '../harness/pipeline.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long faults last; the short matrix and the soak pass different values. */
export interface FaultTimings {
  /** How long a server stays down or a network fault stays on. */
  readonly holdMs: number;
  /** Added latency, each way. */
  readonly latencyMs: number;
}

async function terminateWalsender(context: ScenarioContext): Promise<number> {
  const { rows } = await context.query(
    `select pg_terminate_backend(active_pid) as terminated from pg_replication_slots
      where slot_name = $1 and active_pid is not null`,
    [context.slot],
  );
  return rows.length;
}

/**
 * Every fault of the matrix, in the order they run; the slot drop halts capture for good,
 * so it is last.
 */
export function matrixFaults(timings: FaultTimings): Fault[] {
  const { holdMs, latencyMs } = timings;
  // Capture's exit after the slot drop, awaited from before the drop so it cannot be missed.
  let haltedCapture: Promise<ChildExit> | undefined;
  return [
    {
      name: 'postgres immediate shutdown',
      async inject({ stack }) {
        await stack.crashPostgres();
        await sleep(holdMs);
        await stack.startPostgres();
      },
    },
    {
      name: 'walsender terminated',
      async inject(context) {
        // Three times, a moment apart: the stream is mid-transaction most of the time.
        for (let round = 0; round < 3; round += 1) {
          await terminateWalsender(context);
          await sleep(Math.max(500, holdMs / 3));
        }
      },
    },
    {
      name: 'kafka SIGKILL + restart',
      async inject({ stack }) {
        await stack.killKafka();
        await sleep(holdMs);
        await stack.startKafka();
      },
    },
    {
      name: 'kafka SIGSTOP > txn timeout',
      async inject({ stack, transactionTimeoutMs }) {
        stack.freezeKafka();
        await sleep(transactionTimeoutMs + Math.max(2_000, holdMs));
        stack.thawKafka();
      },
    },
    {
      name: 'kafka proxy latency',
      async inject({ stack }) {
        stack.kafkaProxy.setLatency(latencyMs);
        await sleep(holdMs);
        stack.kafkaProxy.restore();
      },
    },
    {
      name: 'kafka proxy dropped conns',
      async inject({ stack }) {
        for (let round = 0; round < 3; round += 1) {
          stack.kafkaProxy.dropConnections();
          await sleep(Math.max(500, holdMs / 3));
        }
      },
    },
    {
      name: 'kafka proxy half-open',
      async inject({ stack }) {
        stack.kafkaProxy.blackHole();
        await sleep(holdMs);
        stack.kafkaProxy.restore();
      },
    },
    {
      name: 'postgres proxy latency',
      async inject({ stack }) {
        stack.postgresProxy.setLatency(latencyMs);
        await sleep(holdMs);
        stack.postgresProxy.restore();
      },
    },
    {
      name: 'postgres proxy dropped conns',
      async inject({ stack }) {
        for (let round = 0; round < 3; round += 1) {
          stack.postgresProxy.dropConnections();
          await sleep(Math.max(500, holdMs / 3));
        }
      },
    },
    {
      name: 'postgres proxy half-open',
      async inject({ stack }) {
        stack.postgresProxy.blackHole();
        await sleep(holdMs);
        stack.postgresProxy.restore();
      },
    },
    {
      name: 'replication slot dropped',
      async inject(context) {
        // An active slot cannot be dropped: end its walsender, then drop it before capture
        // takes it again.
        haltedCapture = context.capture.nextExit();
        const deadline = Date.now() + 30_000;
        for (;;) {
          await terminateWalsender(context);
          const dropped = await context
            .query(
              `select pg_drop_replication_slot(slot_name) from pg_replication_slots
                where slot_name = $1 and not active`,
              [context.slot],
            )
            .then(
              (result) => result.rows.length > 0,
              () => false,
            );
          if (dropped) return;
          if (Date.now() > deadline) throw new Error(`could not drop slot ${context.slot}`);
          await sleep(20);
        }
      },
      async expectsHalt(context) {
        const exit = await Promise.race([
          haltedCapture ?? context.capture.nextExit(),
          sleep(60_000).then(() => undefined),
        ]);
        const slots = await context.query(
          'select slot_name from pg_replication_slots where slot_name = $1',
          [context.slot],
        );
        if (exit === undefined)
          throw new Error('capture did not halt within 60 s after its slot was dropped');
        // The fatal line is the last one the command printed before exiting.
        const fatal = [...exit.tail]
          .reverse()
          .find((line) => line.startsWith('tributary capture:'));
        const errorCode = /CAPTURE_[A-Z_]+/.exec(fatal ?? '')?.[0] ?? 'no error code printed';
        if (slots.rows.length > 0) throw new Error('capture recreated the dropped slot');
        return `exit code ${exit.code}, ${errorCode}, slot not recreated: ${fatal ?? 'no fatal line'}`;
      },
    },
  ];
}
