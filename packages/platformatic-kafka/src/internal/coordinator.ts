/**
 * Works around a bug of @platformatic/kafka 1.35.0 (the last 1.x): a `Consumer` looks its
 * group coordinator up once and keeps the node id for its whole life (a private field that
 * nothing clears), so after the coordinator broker dies every group operation (heartbeat,
 * join, sync, offset fetch and commit, leave) still goes to that node id:
 *
 * - while the node is out of the cluster metadata, `metadata.brokers.get(id)` is
 *   `undefined` and the connection pool reads `.host` of it (`network/connection-pool.js`,
 *   called from `#performGroupOperation` in `clients/consumer/consumer.js`): a `TypeError`
 *   thrown inside a timer or socket callback, which ends the process;
 * - once the node is back, the requests fail with NOT_COORDINATOR until the process ends.
 *
 * {@link CoordinatorAwareConsumer} turns the first into a typed error
 * ({@link CoordinatorGoneError}) through the library's exported `kGetConnection` extension
 * point, and can hand a consumer that is being abandoned a connection to the real
 * coordinator, so that its leave reaches it. The adapter (consumer.ts) answers both cases by
 * replacing the library consumer, which looks the coordinator up afresh.
 */
import { Consumer, GenericError, kGetConnection } from '@platformatic/kafka';
import type { Broker, Callback, Connection } from '@platformatic/kafka';
import type { Logger } from '@tributary/core';
import { kafkaErrorNames } from '../errors.js';

/**
 * The consumer's cached group coordinator is no longer a broker of the cluster: a network
 * error of the library (its codes are a closed list) marked `coordinatorGone`. Not retried by
 * the library (the same stale coordinator would fail again): the adapter replaces the
 * consumer instead.
 */
export class CoordinatorGoneError extends GenericError {
  constructor(groupId: string, coordinatorId: number | null) {
    super(
      'PLT_KFK_NETWORK',
      `the group coordinator of ${groupId} (node ${String(coordinatorId)}) is not in the cluster metadata any more; the consumer looks the coordinator up again`,
      { canRetry: false, coordinatorGone: true, groupId, coordinatorId },
    );
  }
}

/** Protocol errors saying that the consumer talks to a node that is not its coordinator. */
const STALE_COORDINATOR = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

/** Whether a library error (or an adapter error caused by one) means a stale coordinator. */
export function coordinatorLost(error: unknown): boolean {
  if ([...kafkaErrorNames(error)].some((name) => STALE_COORDINATOR.has(name))) return true;
  const visit = (current: unknown, depth: number): boolean => {
    if (depth > 6 || typeof current !== 'object' || current === null) return false;
    if ((current as { coordinatorGone?: unknown }).coordinatorGone === true) return true;
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested) && nested.some((inner) => visit(inner, depth + 1))) return true;
    return visit((current as { cause?: unknown }).cause, depth + 1);
  };
  return visit(error, 0);
}

/**
 * A library `Consumer` whose lookups of a broker missing from the metadata fail with
 * {@link CoordinatorGoneError} instead of a `TypeError`. Only a group operation asks for a
 * broker that is not in the metadata it just read: fetches and offset lists ask for
 * partition leaders taken from that metadata.
 */
export class CoordinatorAwareConsumer extends Consumer {
  #redirect: Broker | null | undefined;

  /**
   * From now on every connection this consumer asks for goes to `coordinator`: only its
   * leave is still to come, and it must reach the real coordinator (its own lookup is stale),
   * so that the group drops the member at once instead of after the session timeout.
   * `null`: the coordinator is unknown, the leave fails fast.
   */
  retireTo(coordinator: Broker | null): void {
    this.#redirect = coordinator;
  }

  override [kGetConnection](broker: Broker | undefined, callback: Callback<Connection>): void {
    const target = this.#redirect === undefined ? broker : this.#redirect;
    if (target === undefined || target === null) {
      callback(new CoordinatorGoneError(this.groupId, this.coordinatorId));
      return;
    }
    super[kGetConnection](target, callback);
  }
}

/**
 * Closes `stale`, a consumer being replaced by `fresh`: its leave goes to the coordinator
 * `fresh` finds, so that the group drops the old member at once instead of after its session
 * timeout. A failure only costs that wait, so it is logged, not thrown.
 */
export async function retire(
  stale: CoordinatorAwareConsumer,
  fresh: CoordinatorAwareConsumer,
  topics: readonly string[],
  logger: Logger | undefined,
): Promise<void> {
  let coordinator: Broker | null = null;
  try {
    const id = await fresh.findGroupCoordinator();
    coordinator = (await fresh.metadata({ topics: [...topics] })).brokers.get(id) ?? null;
  } catch (error) {
    logger?.debug('kafka group coordinator lookup failed', { groupId: fresh.groupId, error });
  }
  stale.retireTo(coordinator);
  const left = await new Promise<Error | null>((resolve) => {
    stale.close(true, (error) => {
      resolve(error);
    });
  });
  if (left !== null) {
    logger?.warn(
      'the replaced kafka consumer could not leave the group; the group drops it after the session timeout',
      { groupId: stale.groupId, error: left },
    );
  }
}
