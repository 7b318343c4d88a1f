/**
 * A client without TLS against a TLS listener: the broker reads the first request as a
 * broken TLS record and closes the connection without a word, which @platformatic/kafka
 * reports as "Connection closed", exactly like a broker that is down. Retrying would never help, so
 * after a failed connect a plaintext client asks the bootstrap brokers for a TLS handshake;
 * a broker that answers it is a TLS listener, and the failure becomes `KAFKA_TLS_REQUIRED`.
 * Only after a failure: a probe against a healthy plaintext broker would make it log a
 * malformed request. The same file lives in @tributary/kafkajs (no shared I/O
 * package exists, and core does no I/O).
 *
 * A client with TLS against a mutual-TLS listener that refuses its certificate (or its lack
 * of one) fares no better: the listener's alert reaches @platformatic/kafka only as
 * "Connection closed". So a TLS client probes too, with its own TLS settings, and a broker
 * that answers the handshake with a certificate alert makes the failure
 * `KAFKA_TLS_CLIENT_CERTIFICATE_REJECTED` (kafkajs reports the alert itself).
 */
import { connect, type ConnectionOptions } from 'node:tls';
import {
  isKafkaSecurityError,
  isTributaryError,
  kafkaClientCertificateRejected,
  kafkaTlsRequired,
  type KafkaSecurityError,
} from '@tributary/core';

/** Rewrites a failed connect's error; `KAFKA_TLS_REQUIRED` when the broker speaks TLS. */
export type ConnectFailureCheck = (error: unknown, what: string) => Promise<unknown>;

/** What one TLS probe of a broker reports: how it answered, decided by the caller. */
interface ProbeAnswers {
  /** The handshake completed; `done` ends the probe with an answer. */
  readonly onSecure: (done: (answer: boolean) => void) => void;
  /** The connection failed with `error`: the probe's answer. */
  readonly onError: (error: NodeJS.ErrnoException) => boolean;
}

/**
 * One TLS handshake with `host:port` using `options` (certificates never verified), ended
 * by the first of: the caller's answer, an error, the connection closing (false) or the
 * timeout (false).
 */
function probeTls(
  broker: string,
  options: ConnectionOptions,
  timeoutMs: number,
  answers: ProbeAnswers,
): Promise<boolean> {
  const separator = broker.lastIndexOf(':');
  const host = broker.slice(0, separator).replace(/^\[|\]$/g, '');
  const port = Number(broker.slice(separator + 1));
  if (separator < 0 || !Number.isInteger(port)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ ...options, host, port, rejectUnauthorized: false });
    let settled = false;
    const done = (answer: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => {
      done(false);
    });
    socket.once('secureConnect', () => {
      answers.onSecure(done);
    });
    socket.once('close', () => {
      done(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      done(answers.onError(error));
    });
  });
}

/**
 * Whether `host:port` completes (or refuses with a TLS alert) a TLS handshake. Any TLS
 * answer counts: certificates are not verified, and a listener that wants a client
 * certificate still speaks TLS.
 */
export function speaksTls(broker: string, timeoutMs: number): Promise<boolean> {
  const host = broker.slice(0, broker.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  // SNI takes host names only.
  const options = /^[\d.]+$|:/.test(host) ? {} : { servername: host };
  return probeTls(broker, options, timeoutMs, {
    onSecure: (done) => {
      done(true);
    },
    // A TLS alert (handshake failure, certificate required) comes from a TLS server; a
    // plaintext server resets or closes the connection (ECONNRESET).
    onError: (error) => typeof error.code === 'string' && error.code.startsWith('ERR_SSL'),
  });
}

const CERTIFICATE_ALERT = /ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED)/;

/**
 * Whether `host:port` refuses a TLS handshake made with `tls` (the client's own settings,
 * certificate and key included) with a client-certificate alert. Under TLS 1.3 the alert
 * comes after the client considers the handshake done, so it waits a moment for it. The CA
 * is not what is probed: an unknown CA fails the client's own connect already.
 */
export function refusesClientCertificate(
  broker: string,
  tls: ConnectionOptions,
  timeoutMs: number,
): Promise<boolean> {
  return probeTls(broker, tls, timeoutMs, {
    onSecure: (done) => {
      setTimeout(() => {
        done(false);
      }, 1_000).unref();
    },
    onError: (error) => CERTIFICATE_ALERT.test(error.code ?? ''),
  });
}

type Diagnosis = (what: string, cause?: unknown) => KafkaSecurityError;

/**
 * The plaintext-against-TLS detection of one client. The library retries a closed
 * connection many times over (metadata × API versions: 36 attempts, about 20 s) before a
 * connect fails, so the first retry of any request already probes the brokers, once per
 * client, and a connect in progress fails as soon as a broker answers in TLS; a failed
 * connect is probed again in case that first probe was inconclusive.
 */
export class TlsRequiredDetector {
  readonly #tls: ConnectionOptions | undefined;
  readonly #brokers: readonly string[];
  readonly #timeoutMs: number;
  #probe: Promise<Diagnosis | undefined> | undefined;
  readonly #waiting = new Set<(diagnosis: Diagnosis) => void>();

  /**
   * @param tls - the client's TLS settings, `undefined` for a plaintext client
   */
  constructor(tls: ConnectionOptions | undefined, brokers: readonly string[], timeoutMs = 3_000) {
    this.#tls = tls;
    this.#brokers = brokers;
    this.#timeoutMs = timeoutMs;
  }

  /** Called on every retry of the library; probes once per client, on the first one. */
  noticeRetry(): void {
    if (this.#probe !== undefined) return;
    this.#probe = this.#diagnose();
    void this.#probe.then((diagnosis) => {
      if (diagnosis !== undefined) for (const notify of this.#waiting) notify(diagnosis);
    });
  }

  /** The check a failed connect goes through. */
  readonly check: ConnectFailureCheck = async (error, what) => {
    if (isKafkaSecurityError(error)) return error;
    if (isTributaryError(error) && !error.retriable) return error;
    const diagnosis = await this.#diagnose();
    return diagnosis === undefined ? error : diagnosis(what, error);
  };

  /** Runs a connect that fails with the security error as soon as a probe finds one. */
  async connect<T>(connect: () => Promise<T>, what: string): Promise<T> {
    let notify: ((diagnosis: Diagnosis) => void) | undefined;
    const found = new Promise<never>((_resolve, reject) => {
      notify = (diagnosis) => {
        reject(diagnosis(what));
      };
    });
    if (notify !== undefined) this.#waiting.add(notify);
    const attempt = connect();
    // The library keeps retrying after losing the race; its final failure is not news.
    attempt.catch(() => undefined);
    try {
      return await Promise.race([attempt, found]);
    } catch (error) {
      throw await this.check(error, what);
    } finally {
      if (notify !== undefined) this.#waiting.delete(notify);
    }
  }

  async #diagnose(): Promise<Diagnosis | undefined> {
    const tls = this.#tls;
    if (tls === undefined) {
      const answers = await Promise.all(
        this.#brokers.map((broker) => speaksTls(broker, this.#timeoutMs)),
      );
      const broker = this.#brokers[answers.indexOf(true)];
      return broker === undefined
        ? undefined
        : (what, cause) => kafkaTlsRequired(what, broker, cause);
    }
    const refusals = await Promise.all(
      this.#brokers.map((broker) => refusesClientCertificate(broker, tls, this.#timeoutMs)),
    );
    const broker = this.#brokers[refusals.indexOf(true)];
    return broker === undefined
      ? undefined
      : (what, cause) => kafkaClientCertificateRejected(what, broker, cause);
  }
}
