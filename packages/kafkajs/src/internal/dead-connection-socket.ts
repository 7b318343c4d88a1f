import net from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** TCP keep-alive delay of kafkajs's own socket factory. */
const KEEP_ALIVE_DELAY_MS = 60_000;

/**
 * kafkajs's socket factory plus a dead-connection check. When a broker's connection goes
 * half-open (the broker was SIGKILLed behind a NAT, a network partition, a peer that lost
 * its state), the local socket stays ESTABLISHED: kafkajs times each request out, but it
 * keeps the socket and writes the next request into it, so a consumer never recovers
 * (found by the fault matrix, "kafka proxy half-open"). Every request of the Kafka protocol
 * Tributary sends expects a response, so a socket that received nothing for `timeoutMs`
 * since the first request written after its last response is dead: it is destroyed, kafkajs
 * sees a closed connection (retriable) and dials a new one.
 *
 * @param timeoutMs - longer than any legitimate wait for a response (kafkajs's request
 *   timeout, which also bounds fetch waits and transaction commits)
 */
export function deadConnectionSocketFactory(timeoutMs: number): ISocketFactory {
  return ({ host, port, ssl, onConnect }) => {
    const socket = ssl
      ? tls.connect(
          { host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl },
          onConnect,
        )
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
    watchForSilence(socket, timeoutMs);
    return socket;
  };
}

/**
 * Destroys `socket` when nothing was read for `timeoutMs` after a write that followed the
 * last read. Exported for its test.
 */
export function watchForSilence(socket: net.Socket, timeoutMs: number): void {
  let unansweredSince: number | undefined;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = (...args: unknown[]) => {
    unansweredSince ??= Date.now();
    return write(...args);
  };
  socket.on('data', () => {
    // Any byte from the broker proves the connection alive.
    unansweredSince = undefined;
  });
  const timer = setInterval(
    () => {
      if (unansweredSince !== undefined && Date.now() - unansweredSince > timeoutMs) {
        clearInterval(timer);
        socket.destroy(
          new Error(`no response from the broker for ${timeoutMs} ms; closing a dead connection`),
        );
      }
    },
    Math.min(1_000, Math.max(10, timeoutMs / 4)),
  );
  timer.unref();
  socket.once('close', () => clearInterval(timer));
}
