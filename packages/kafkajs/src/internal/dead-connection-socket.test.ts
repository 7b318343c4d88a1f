import type { Socket } from 'node:net';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deadConnectionSocketFactory } from './dead-connection-socket.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
});

/** A server that either answers every write (echo) or accepts and never answers. */
async function server(answers: boolean): Promise<number> {
  const created = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    if (answers) socket.pipe(socket);
    else socket.resume();
  });
  servers.push(created);
  await new Promise<void>((resolve) => created.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return (created.address() as AddressInfo).port;
}

function connect(port: number): Promise<{ socket: Socket; closed: Promise<string> }> {
  return new Promise((resolve) => {
    const socket = deadConnectionSocketFactory(200)({
      host: '127.0.0.1',
      port,
      ssl: false as never,
      onConnect: () => resolve({ socket, closed }),
    });
    sockets.push(socket);
    const closed = new Promise<string>((resolveClosed) => {
      socket.on('error', (error) => resolveClosed(error.message));
      socket.on('close', () => resolveClosed('closed'));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('deadConnectionSocketFactory', () => {
  it('closes a connection whose request gets no response in time', async () => {
    const { socket, closed } = await connect(await server(false));
    socket.write('request');
    expect(await closed).toMatch(/no response from the broker for 200 ms/);
  });

  it('keeps a connection that answers, and an idle one', async () => {
    const { socket } = await connect(await server(true));
    for (let round = 0; round < 6; round += 1) {
      socket.write('request');
      await sleep(100);
    }
    // Idle with nothing outstanding is not dead.
    await sleep(500);
    expect(socket.destroyed).toBe(false);
  });
});
