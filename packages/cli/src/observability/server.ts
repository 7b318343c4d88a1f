/**
 * The HTTP server of a long-running `tributary` process (`capture`, `project`): Prometheus
 * metrics on `/metrics`, liveness on `/healthz`, readiness on `/readyz`, and, where the
 * process can see the whole pipeline, the status page on `/status` with its data on
 * `/status.json`. Off unless a port is configured (see {@link observabilitySettingsFrom}).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TributaryError, type Logger } from '@tributary/core';
import type { Registry } from 'prom-client';
import { STATUS_PAGE_HTML } from './page.js';

/** What `/healthz` or `/readyz` answers: 200 when `ok`, 503 otherwise, with a JSON body. */
export interface HealthReport {
  readonly ok: boolean;
  /** One word for people and probes (`ok`, `streaming`, `standby`, `stopped`…). */
  readonly status: string;
  /** Why not ready, when not. */
  readonly reasons?: readonly string[];
  /** Anything else worth showing (state, lag per projection…). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Options of {@link startObservabilityServer}. */
export interface ObservabilityServerOptions {
  /** 0 picks a free port (the one taken is {@link ObservabilityServer.port}). */
  readonly port: number;
  readonly host: string;
  readonly registry: Registry;
  /** Liveness: is the process's loop still running? */
  readonly live: () => HealthReport;
  /** Readiness: is this instance doing its job (or correctly standing by)? */
  readonly ready: () => Promise<HealthReport>;
  /**
   * The pipeline status (what `tributary status --json` prints), for `/status.json` and the
   * page on `/status`. Absent: both answer 404.
   */
  readonly status?: () => Promise<unknown>;
  readonly logger: Logger;
}

/** A listening server. */
export interface ObservabilityServer {
  /** The port it listens on. */
  readonly port: number;
  close(): Promise<void>;
}

const json = (response: ServerResponse, report: HealthReport): void => {
  response.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' });
  response.end(`${JSON.stringify(report)}\n`);
};

/** Starts the server; resolves once it listens. */
export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  const { registry, logger } = options;
  const paths = `/metrics /healthz /readyz${options.status === undefined ? '' : ' /status /status.json'}`;
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/metrics': {
        const body = await registry.metrics();
        response.writeHead(200, { 'content-type': registry.contentType });
        response.end(body);
        return;
      }
      case '/healthz':
        json(response, options.live());
        return;
      case '/readyz':
        json(response, await options.ready());
        return;
      case '/status':
      case '/status.json':
        if (options.status === undefined) break;
        if (path === '/status') {
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          response.end(STATUS_PAGE_HTML);
          return;
        }
        response.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-store',
        });
        response.end(`${JSON.stringify(await options.status())}\n`);
        return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' });
    response.end(`not found: try ${paths}\n`);
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.warn('observability request failed', { path: request.url, error });
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'text/plain' });
      response.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new TributaryError(
          'METRICS_SERVER_FAILED',
          `Cannot serve metrics on ${options.host}:${options.port} (${error.code ?? error.message}): choose another --metrics-port / TRIBUTARY_METRICS_PORT, or leave it unset to switch metrics off`,
          { cause: error },
        ),
      );
    });
    server.listen(options.port, options.host, () => {
      server.removeAllListeners('error');
      resolve();
    });
  });
  // The server must not keep a stopping process alive on its own.
  server.unref();
  const port = (server.address() as AddressInfo).port;
  logger.info('metrics server listening', {
    host: options.host,
    port,
    paths,
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
