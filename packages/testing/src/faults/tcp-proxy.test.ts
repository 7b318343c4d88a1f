import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTcpFaultProxy, type TcpFaultProxy } from './tcp-proxy.js';

/** A real TCP echo server on loopback. */
let echo: Server;
const echoSockets = new Set<Socket>();
let echoPort: number;
let proxy: TcpFaultProxy;
const sockets: Socket[] = [];

beforeEach(async () => {
  echo = createServer((socket) => {
    echoSockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => echoSockets.delete(socket));
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen({ host: '127.0.0.1', port: 0 }, resolve));
  echoPort = (echo.address() as AddressInfo).port;
  proxy = await createTcpFaultProxy({ target: { host: '127.0.0.1', port: echoPort } });
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await proxy.close();
  for (const socket of echoSockets) socket.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

/** A client connected through the proxy that collects what it receives. */
async function connect(): Promise<{
  socket: Socket;
  received: () => string;
  closed: Promise<string>;
}> {
  const socket = new Socket();
  sockets.push(socket);
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
  const closed = new Promise<string>((resolve) => {
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.on('close', () => resolve('closed'));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(proxy.port, '127.0.0.1', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return { socket, received: () => data, closed };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('createTcpFaultProxy', () => {
  it('forwards both ways to the target', async () => {
    const client = await connect();
    client.socket.write('hello');
    await until(() => client.received() === 'hello');
    expect(proxy.mode).toBe('forward');
    expect(proxy.acceptedConnections).toBe(1);
    expect(proxy.openConnections).toBe(1);
  });

  it('adds latency in both directions without reordering chunks', async () => {
    const client = await connect();
    proxy.setLatency(150);
    const started = performance.now();
    for (const part of ['a', 'b', 'c', 'd']) client.socket.write(part);
    await until(() => client.received() === 'abcd');
    // One delay on the way in and one on the way back.
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    proxy.restore();
    const quick = performance.now();
    client.socket.write('e');
    await until(() => client.received() === 'abcde');
    expect(performance.now() - quick).toBeLessThan(150);
  });

  it('resets every open connection on drop and accepts new ones', async () => {
    const first = await connect();
    const second = await connect();
    await until(() => proxy.openConnections === 2);
    expect(proxy.dropConnections()).toBe(2);
    expect(await first.closed).toBe('ECONNRESET');
    expect(await second.closed).toBe('ECONNRESET');
    const third = await connect();
    third.socket.write('again');
    await until(() => third.received() === 'again');
  });

  it('black-holes open and new connections: they stay established and never answer, even after restore', async () => {
    const open = await connect();
    open.socket.write('before');
    await until(() => open.received() === 'before');
    proxy.blackHole();
    open.socket.write('lost');
    const fresh = await connect();
    fresh.socket.write('lost too');
    await sleep(300);
    expect(open.received()).toBe('before');
    expect(fresh.received()).toBe('');
    expect(open.socket.destroyed).toBe(false);
    expect(fresh.socket.destroyed).toBe(false);
    expect(proxy.mode).toBe('black-hole');

    proxy.restore();
    open.socket.write('still lost');
    const healed = await connect();
    healed.socket.write('works');
    await until(() => healed.received() === 'works');
    expect(open.received()).toBe('before');
    expect(fresh.received()).toBe('');
  });

  it('holds traffic while paused and delivers it all on resume', async () => {
    const client = await connect();
    proxy.pause();
    client.socket.write('held');
    await sleep(200);
    expect(client.received()).toBe('');
    expect(proxy.mode).toBe('paused');
    proxy.resume();
    await until(() => client.received() === 'held');
    expect(proxy.mode).toBe('forward');
  });

  it('closes the client when the target is unreachable', async () => {
    await proxy.close();
    proxy = await createTcpFaultProxy({ target: { host: '127.0.0.1', port: 1 } });
    const client = await connect();
    expect(['ECONNRESET', 'closed']).toContain(await client.closed);
  });
});
