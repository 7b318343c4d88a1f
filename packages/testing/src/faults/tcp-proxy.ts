import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

/**
 * What the proxy currently does to the traffic. `forward` is the healthy state; the others
 * are the network faults a test injects (see {@link TcpFaultProxy}).
 */
export type TcpProxyMode = 'forward' | 'paused' | 'black-hole';

/** Options of {@link createTcpFaultProxy}. */
export interface TcpFaultProxyOptions {
  /** Where connections are forwarded, e.g. `{ host: '127.0.0.1', port: 5432 }`. */
  readonly target: { readonly host: string; readonly port: number };
  /**
   * Loopback port to listen on. Default: 0 (a free port, read it from
   * {@link TcpFaultProxy.port}). A fixed port lets a broker advertise the proxy's address.
   */
  readonly port?: number;
  /** Host to listen on. Default: `127.0.0.1`. */
  readonly host?: string;
}

/**
 * A TCP proxy written in Node that a test controls, for network faults without tc or
 * iptables: clients connect to {@link TcpFaultProxy.port} instead of the server.
 *
 * - {@link TcpFaultProxy.setLatency}: every chunk is delivered `ms` later, in order, both ways.
 * - {@link TcpFaultProxy.dropConnections}: every open connection is reset (RST) on both
 *   sides; new ones are accepted normally.
 * - {@link TcpFaultProxy.blackHole}: a half-open network. Open and new connections stay
 *   established but nothing is forwarded or answered any more; bytes are discarded. These
 *   connections never recover, even after {@link TcpFaultProxy.restore}, as when the peer
 *   lost its state: only a client-side timeout gets a client out of one.
 * - {@link TcpFaultProxy.pause} / {@link TcpFaultProxy.resume}: nothing flows, but nothing is
 *   lost either; buffered bytes are delivered on resume.
 * - {@link TcpFaultProxy.restore}: healthy again (no latency, forwarding, new connections work).
 */
export interface TcpFaultProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  /** The current fault mode. */
  readonly mode: TcpProxyMode;
  /** Connections currently open through the proxy (black-holed ones included). */
  readonly openConnections: number;
  /** Connections accepted since the start. */
  readonly acceptedConnections: number;
  /** Adds `ms` of delay to every chunk in both directions (0 removes it). */
  setLatency(ms: number): void;
  /** Resets every open connection (both sides); returns how many there were. */
  dropConnections(): number;
  /** Keeps connections open but forwards and answers nothing (half-open). */
  blackHole(): void;
  /** Stops the flow without losing bytes, until {@link TcpFaultProxy.resume}. */
  pause(): void;
  /** Delivers what was held back by {@link TcpFaultProxy.pause} and forwards again. */
  resume(): void;
  /** Back to healthy forwarding without latency; black-holed connections stay dead. */
  restore(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
  /** Black-holed connections never forward again. */
  dead: boolean;
}

/**
 * Starts a {@link TcpFaultProxy} listening on loopback and forwarding to `options.target`.
 *
 * ```ts
 * const proxy = await createTcpFaultProxy({ target: { host: '127.0.0.1', port: 5432 } });
 * proxy.blackHole(); // clients connected to proxy.port now hang
 * ```
 */
export async function createTcpFaultProxy(options: TcpFaultProxyOptions): Promise<TcpFaultProxy> {
  const pairs = new Set<Pair>();
  let mode: TcpProxyMode = 'forward';
  let latencyMs = 0;
  let accepted = 0;

  // Each direction forwards through one ordered queue so that latency never reorders
  // chunks (a later chunk may not overtake an earlier one whose timer is still pending).
  const pipe = (pair: Pair, from: Socket, to: Socket): void => {
    let queue: Promise<void> = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (pair.dead) return;
      const delay = latencyMs;
      queue = queue.then(async () => {
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        if (!pair.dead && !to.destroyed) to.write(chunk);
      });
    });
    from.on('end', () => {
      queue = queue.then(() => {
        if (!pair.dead && !to.destroyed) to.end();
      });
    });
  };

  const destroyPair = (pair: Pair): void => {
    pairs.delete(pair);
    // RST rather than FIN: a dropped connection, not a polite close.
    for (const socket of [pair.client, pair.server]) {
      if (!socket.destroyed) socket.resetAndDestroy();
    }
  };

  const onConnection = (client: Socket): void => {
    accepted += 1;
    const server = new Socket();
    const pair: Pair = { client, server, dead: mode === 'black-hole' };
    pairs.add(pair);
    client.on('error', () => destroyPair(pair));
    server.on('error', () => destroyPair(pair));
    client.on('close', () => {
      pairs.delete(pair);
      if (!server.destroyed) server.destroy();
    });
    server.on('close', () => {
      // A black-holed client never learns that the server went away.
      if (pair.dead) return;
      pairs.delete(pair);
      if (!client.destroyed) client.destroy();
    });
    if (pair.dead) {
      // Accepted and kept, but never connected through: the client waits forever.
      client.on('data', () => undefined);
      return;
    }
    if (mode === 'paused') client.pause();
    server.connect(options.target.port, options.target.host);
    pipe(pair, client, server);
    pipe(pair, server, client);
    if (mode === 'paused') server.pause();
  };

  const server: Server = createServer({ pauseOnConnect: false }, onConnection);
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const live = (): Pair[] => [...pairs].filter((pair) => !pair.dead);
  return {
    port,
    address: `${options.host ?? '127.0.0.1'}:${port}`,
    get mode() {
      return mode;
    },
    get openConnections() {
      return pairs.size;
    },
    get acceptedConnections() {
      return accepted;
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    dropConnections() {
      const all = [...pairs];
      for (const pair of all) destroyPair(pair);
      return all.length;
    },
    blackHole() {
      mode = 'black-hole';
      for (const pair of live()) {
        pair.dead = true;
        // The server side goes away quietly; the client keeps its socket and hears nothing.
        pair.server.destroy();
        pair.client.resume();
      }
    },
    pause() {
      mode = 'paused';
      for (const pair of live()) {
        pair.client.pause();
        pair.server.pause();
      }
    },
    resume() {
      if (mode === 'paused') mode = 'forward';
      for (const pair of live()) {
        pair.client.resume();
        pair.server.resume();
      }
    },
    restore() {
      const wasPaused = mode === 'paused';
      mode = 'forward';
      latencyMs = 0;
      if (wasPaused) {
        for (const pair of live()) {
          pair.client.resume();
          pair.server.resume();
        }
      }
    },
    async close() {
      for (const pair of [...pairs]) destroyPair(pair);
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}
