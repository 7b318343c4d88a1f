/**
 * kafkajs 2.2.4 looks its transaction coordinator up (a FindCoordinator round trip) before
 * every AddPartitionsToTxn and EndTxn. Capture sends one request per partition, so a
 * 10,000-event Kafka transaction made ~17 lookups: measured on the local stack (loaded
 * machine), 1–5 ms each, about a fifth of the time the transaction spent sending. The Java
 * producer keeps its coordinator until a request to it fails.
 *
 * This keeps the coordinator for the rest of one transaction: the first lookup of a
 * transaction goes to the network, the others of the same transaction reuse its broker. The
 * kept broker is forgotten when EndTxn or InitProducerId returns (each transaction looks up afresh, so a moved
 * coordinator is found within one transaction), when any transactional request to it fails
 * (kafkajs's own retry then looks up again, as before), when its connection is down, and
 * after {@link COORDINATOR_KEEP_MS} at most.
 *
 * Installed on kafkajs's `Cluster` and `Broker` prototypes when this module is evaluated;
 * group coordinators (consumers) and every other request are untouched.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Longest a looked-up transaction coordinator is reused. */
export const COORDINATOR_KEEP_MS = 10_000;

/** kafkajs's FindCoordinator key type of transaction coordinators. */
const TRANSACTION = 1;

type Lookup = (
  this: object,
  request: { groupId: string; coordinatorType?: number },
) => Promise<unknown>;
type TransactionalRequest = (
  this: object,
  request: { transactionalId?: string },
) => Promise<unknown>;

interface Kept {
  readonly cluster: object;
  readonly broker: { isConnected?: () => boolean };
  readonly at: number;
}

/**
 * The coordinator cache: `lookup` wraps kafkajs's `Cluster.findGroupCoordinator`, `request`
 * wraps a transactional `Broker` request (`forgetAfter`: forget on success too, for EndTxn).
 * Exported for its unit test.
 */
export function createCoordinatorCache(now: () => number = () => performance.now()): {
  lookup(original: Lookup): Lookup;
  request(original: TransactionalRequest, forgetAfter: boolean): TransactionalRequest;
  readonly size: number;
} {
  const kept = new Map<string, Kept>();
  return {
    get size() {
      return kept.size;
    },
    lookup: (original) =>
      async function findGroupCoordinator(this: object, request) {
        if (request.coordinatorType !== TRANSACTION) return original.call(this, request);
        const hit = kept.get(request.groupId);
        if (
          hit !== undefined &&
          hit.cluster === this &&
          now() - hit.at < COORDINATOR_KEEP_MS &&
          hit.broker.isConnected?.() !== false
        ) {
          return hit.broker;
        }
        kept.delete(request.groupId);
        const broker = (await original.call(this, request)) as Kept['broker'];
        kept.set(request.groupId, { cluster: this, broker, at: now() });
        return broker;
      },
    request: (original, forgetAfter) =>
      async function transactionalRequest(this: object, request) {
        const id = request.transactionalId;
        try {
          const response = await original.call(this, request);
          if (forgetAfter && id !== undefined) kept.delete(id);
          return response;
        } catch (error) {
          if (id !== undefined) kept.delete(id);
          throw error;
        }
      },
  };
}

function install(): boolean {
  const Cluster = require('kafkajs/src/cluster/index.js') as {
    prototype: { findGroupCoordinator: Lookup & { keepsCoordinator?: true } };
  };
  const Broker = require('kafkajs/src/broker/index.js') as {
    prototype: Record<
      'addPartitionsToTxn' | 'addOffsetsToTxn' | 'endTxn' | 'initProducerId',
      TransactionalRequest
    >;
  };
  if (Cluster.prototype.findGroupCoordinator.keepsCoordinator === true) return true;
  const cache = createCoordinatorCache();
  Cluster.prototype.findGroupCoordinator = Object.assign(
    cache.lookup(Cluster.prototype.findGroupCoordinator),
    { keepsCoordinator: true as const },
  );
  const broker = Broker.prototype;
  broker.addPartitionsToTxn = cache.request(broker.addPartitionsToTxn, false);
  broker.addOffsetsToTxn = cache.request(broker.addOffsetsToTxn, false);
  broker.endTxn = cache.request(broker.endTxn, true);
  broker.initProducerId = cache.request(broker.initProducerId, true);
  return true;
}

/** Whether kafkajs keeps its transaction coordinator within a transaction in this process. */
export const transactionCoordinatorKept: boolean = install();
