/**
 * A client without TLS against a TLS listener: the broker reads the first request as a
 * broken TLS record and closes the connection without a word, which kafkajs reports as
 * "Closed connection", exactly like a broker that is down. Retrying would never help, so
 * after a failed connect a plaintext client asks the bootstrap brokers for a TLS handshake;
 * a broker that answers it is a TLS listener, and the failure becomes `KAFKA_TLS_REQUIRED`.
 * Only after a failure: a probe against a healthy plaintext broker would make it log a
 * malformed request. The same file lives in @tributary/platformatic-kafka (no shared I/O
 * package exists, and core does no I/O).
 */
import { connect } from 'node:tls';
import { isKafkaSecurityError, isTributaryError, kafkaTlsRequired } from '@tributary/core';

/** Rewrites a failed connect's error; `KAFKA_TLS_REQUIRED` when the broker speaks TLS. */
export type ConnectFailureCheck = (error: unknown, what: string) => Promise<unknown>;

/**
 * Whether `host:port` completes (or refuses with a TLS alert) a TLS handshake. Any TLS
 * answer counts: certificates are not verified, and a listener that wants a client
 * certificate still speaks TLS.
 */
export function speaksTls(broker: string, timeoutMs: number): Promise<boolean> {
  const separator = broker.lastIndexOf(':');
  const host = broker.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(separator + 1));
  if (separator < 0 || !Number.isInteger(port)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      rejectUnauthorized: false,
      // SNI takes host names only.
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    const done = (answer: boolean): void => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => {
      done(false);
    });
    socket.once('secureConnect', () => {
      done(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // A TLS alert (handshake failure, certificate required) comes from a TLS server; a
      // plaintext server resets or closes the connection (ECONNRESET).
      done(typeof error.code === 'string' && error.code.startsWith('ERR_SSL'));
    });
  });
}

/**
 * The check for one client: with TLS configured it changes nothing; without, a retriable
 * failure of a connect is probed as above.
 */
export function tlsRequiredCheck(
  tls: boolean,
  brokers: readonly string[],
  timeoutMs = 3_000,
): ConnectFailureCheck {
  return async (error, what) => {
    if (tls || isKafkaSecurityError(error)) return error;
    if (isTributaryError(error) && !error.retriable) return error;
    const answers = await Promise.all(brokers.map((broker) => speaksTls(broker, timeoutMs)));
    const index = answers.indexOf(true);
    const broker = brokers[index];
    return broker === undefined ? error : kafkaTlsRequired(what, broker, error);
  };
}

/** A check that changes nothing, for callers that probe nothing. */
export const noConnectFailureCheck: ConnectFailureCheck = (error) => Promise.resolve(error);

/** Runs a connect; its failure goes through `check` (already translated to the port's errors). */
export async function checkedConnect<T>(
  connect: () => Promise<T>,
  check: ConnectFailureCheck,
  what: string,
): Promise<T> {
  try {
    return await connect();
  } catch (error) {
    throw await check(error, what);
  }
}
