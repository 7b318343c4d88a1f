import { silentLogger } from '@tributary/core';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startObservabilityServer, type ObservabilityServer } from './server.js';

const servers: ObservabilityServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('startObservabilityServer', () => {
  it('serves the registry on /metrics and health reports with 200 or 503', async () => {
    const registry = new Registry();
    new Counter({ name: 'probe_total', help: 'probe', registers: [registry] }).inc(3);
    let ready = false;
    const server = await startObservabilityServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      logger: silentLogger,
      live: () => ({ ok: true, status: 'running' }),
      ready: () =>
        Promise.resolve(
          ready
            ? { ok: true, status: 'ready' }
            : { ok: false, status: 'not ready', reasons: ['x'] },
        ),
    });
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('probe_total 3');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ok: false, status: 'not ready', reasons: ['x'] });
    ready = true;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/other`)).status).toBe(404);
    // No status source: no page.
    expect((await fetch(`${base}/status`)).status).toBe(404);
  });

  it('serves the status page, self-contained, and its data on /status.json', async () => {
    const server = await startObservabilityServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      logger: silentLogger,
      live: () => ({ ok: true, status: 'running' }),
      ready: () => Promise.resolve({ ok: true, status: 'ready' }),
      status: () => Promise.resolve({ capture: { name: 'c' }, topics: [], projections: [] }),
    });
    servers.push(server);
    const base = `http://127.0.0.1:${server.port}`;
    const page = await fetch(`${base}/status`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain("fetch('status.json'");
    // Nothing loaded from elsewhere: no external script, style or image.
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    const data = await fetch(`${base}/status.json`);
    expect(await data.json()).toEqual({ capture: { name: 'c' }, topics: [], projections: [] });
  });

  it('fails with a typed error naming the setting when the port is taken', async () => {
    const options = {
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      logger: silentLogger,
      live: () => ({ ok: true, status: 'ok' }),
      ready: () => Promise.resolve({ ok: true, status: 'ok' }),
    };
    const first = await startObservabilityServer(options);
    servers.push(first);
    await expect(startObservabilityServer({ ...options, port: first.port })).rejects.toMatchObject({
      code: 'METRICS_SERVER_FAILED',
      message: expect.stringContaining('EADDRINUSE') as unknown,
    });
  });
});
