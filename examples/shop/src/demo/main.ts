/**
 * `npm run demo --workspace @tributary/example-shop`: the two services in memory (their
 * own event stores and buses, connected only by the in-memory Kafka log), printed step by
 * step. With `--stack`: the same on the real stack (env `DATABASE_URL` + `KAFKA_BROKERS`, else
 * the local stack), each service's reactors in a process of its own, each outbox captured.
 */
import { runShopDemo } from './scenario.js';
import { runShopStackDemo, stackConnection } from './stack-scenario.js';

const write = (line: string): void => void process.stdout.write(`${line}\n`);
const log = (line: string): void => void process.stderr.write(`· ${line}\n`);

const run = process.argv.includes('--stack')
  ? stackConnection(log).then((connection) => runShopStackDemo(write, log, connection))
  : runShopDemo(write);
run.then(
  () => undefined,
  (error: unknown) => {
    process.stderr.write(
      `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
