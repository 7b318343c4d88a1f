/**
 * A client without TLS against a TLS listener: the broker reads the first request as a
 * broken TLS record and closes the connection without a word, which @platformatic/kafka
 * reports as "Connection closed", exactly like a broker that is down. Retrying would never help, so
 * after a failed connect a plaintext client asks the bootstrap brokers for a TLS handshake;
 * a broker that answers it is a TLS listener, and the failure becomes `KAFKA_TLS_REQUIRED`.
 * Only after a failure: a probe against a healthy plaintext broker would make it log a
 * malformed request. The same file lives in @tributary/kafkajs (no shared I/O
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
 * The plaintext-against-TLS detection of one client. The library retries a closed
 * connection many times over (metadata × API versions: 36 attempts, about 20 s) before a
 * connect fails, so the first retry of any request already probes the brokers, once per
 * client, and a connect in progress fails as soon as a broker answers in TLS; a failed
 * connect is probed again in case that first probe was inconclusive.
 */
export class TlsRequiredDetector {
  readonly #tls: boolean;
  readonly #brokers: readonly string[];
  readonly #timeoutMs: number;
  #probe: Promise<string | undefined> | undefined;
  readonly #waiting = new Set<(broker: string) => void>();

  constructor(tls: boolean, brokers: readonly string[], timeoutMs = 3_000) {
    this.#tls = tls;
    this.#brokers = brokers;
    this.#timeoutMs = timeoutMs;
  }

  /** Called on every retry of the library; probes on the first one of a client without TLS. */
  noticeRetry(): void {
    if (this.#tls || this.#probe !== undefined) return;
    this.#probe = this.#tlsBroker();
    void this.#probe.then((broker) => {
      if (broker !== undefined) for (const notify of this.#waiting) notify(broker);
    });
  }

  /** The check a failed connect goes through. */
  readonly check: ConnectFailureCheck = async (error, what) => {
    if (this.#tls || isKafkaSecurityError(error)) return error;
    if (isTributaryError(error) && !error.retriable) return error;
    const broker = await this.#tlsBroker();
    return broker === undefined ? error : kafkaTlsRequired(what, broker, error);
  };

  /** Runs a connect that fails with `KAFKA_TLS_REQUIRED` as soon as a probe finds TLS. */
  async connect<T>(connect: () => Promise<T>, what: string): Promise<T> {
    let notify: ((broker: string) => void) | undefined;
    const tlsFound = new Promise<never>((_resolve, reject) => {
      notify = (broker) => {
        reject(kafkaTlsRequired(what, broker));
      };
    });
    if (notify !== undefined) this.#waiting.add(notify);
    const attempt = connect();
    // The library keeps retrying after losing the race; its final failure is not news.
    attempt.catch(() => undefined);
    try {
      return await Promise.race([attempt, tlsFound]);
    } catch (error) {
      throw await this.check(error, what);
    } finally {
      if (notify !== undefined) this.#waiting.delete(notify);
    }
  }

  async #tlsBroker(): Promise<string | undefined> {
    const answers = await Promise.all(
      this.#brokers.map((broker) => speaksTls(broker, this.#timeoutMs)),
    );
    return this.#brokers[answers.indexOf(true)];
  }
}
