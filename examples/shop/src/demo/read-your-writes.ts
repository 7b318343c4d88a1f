/**
 * Read-your-writes across Kafka, the same in memory and on the stack: a command returns a
 * consistency token; waiting on the orders read model with it resolves once the read model
 * shows the command, and rejects with a typed timeout when the projection does not move.
 */
import { command, isTributaryError, type CommandBus } from '@tributary/core';
import type { WaitForOptions } from '@tributary/projections';
import { ConfirmOrder, PayOrder } from '../orders.js';
import { orderSummaries, type OrderSummary } from '../order-summaries.js';

/** The orders read model as the demo sees it, whichever runtime projects it. */
export interface OrderReadModel {
  /** The runtime's `waitFor`: resolves when the projection applied the token's versions. */
  waitFor(projection: string, token: string, options: WaitForOptions): Promise<void>;
  /** Reads one order from the reader view. */
  read(orderId: string): Promise<OrderSummary | undefined>;
  /** Stops projecting (the read model stays readable). */
  stop(): Promise<void>;
}

/** What the demo saw. */
export interface ReadYourWritesOutcome {
  /** The read model's status of the paid order right after `waitFor` resolved. */
  readonly afterPayment: OrderSummary['status'] | undefined;
  /** The error code `waitFor` rejected with while the projection was stopped. */
  readonly timeoutCode: string | undefined;
  /** The stopped read model's row of the order confirmed meanwhile (none). */
  readonly whileStopped: OrderSummary | undefined;
}

/** Pays `orderId`, waits with the payment's token, reads the read model: it shows "paid". */
export async function payAndReadYourWrite(
  bus: Pick<CommandBus, 'execute'>,
  readModel: OrderReadModel,
  orderId: string,
  write: (line: string) => void,
): Promise<OrderSummary['status'] | undefined> {
  const paid = await bus.execute(command(PayOrder, { orderId }));
  write(`orders: ${orderId} paid (consistency token ${paid.consistencyToken})`);
  await readModel.waitFor(orderSummaries.name, paid.consistencyToken, { timeoutMs: 30_000 });
  const summary = await readModel.read(orderId);
  write(`order_summaries after waitFor: ${orderId} ${summary?.status ?? 'missing'}`);
  return summary?.status;
}

/**
 * Stops the projection, confirms `orderId`, and waits on its token for `timeoutMs`: the wait
 * rejects with `PROJECTION_CONSISTENCY_TIMEOUT`, and the read model has no row for it.
 */
export async function waitOnStoppedReadModel(
  bus: Pick<CommandBus, 'execute'>,
  readModel: OrderReadModel,
  orderId: string,
  write: (line: string) => void,
  timeoutMs = 1_000,
): Promise<Pick<ReadYourWritesOutcome, 'timeoutCode' | 'whileStopped'>> {
  await readModel.stop();
  write('order_summaries: projection stopped');
  const confirmed = await bus.execute(command(ConfirmOrder, { orderId, sku: 'A', quantity: 1 }));
  let timeoutCode: string | undefined;
  try {
    await readModel.waitFor(orderSummaries.name, confirmed.consistencyToken, { timeoutMs });
    write(`orders: ${orderId} confirmed, and the stopped read model shows it (unexpected)`);
  } catch (error) {
    if (!isTributaryError(error, 'PROJECTION_CONSISTENCY_TIMEOUT')) throw error;
    timeoutCode = error.code;
    write(`orders: ${orderId} confirmed; waitFor → ${error.code}: ${error.message}`);
  }
  const whileStopped = await readModel.read(orderId);
  write(`order_summaries: ${orderId} ${whileStopped?.status ?? 'not there (stale read model)'}`);
  return { timeoutCode, whileStopped };
}
