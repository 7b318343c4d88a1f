/**
 * A `fetch` that trusts a given CA for HTTPS. Node's global `fetch` takes no CA (only
 * `NODE_EXTRA_CA_CERTS`, for the whole process), so a registry behind a private CA is
 * reached through node:https with the CA instead; plain `http:` URLs go to the global fetch.
 * It implements what the registry client uses: method, string headers, a string body and an
 * abort signal.
 */
import { request } from 'node:https';

/** Statuses whose response must have no body (the `Response` constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * @param ca - the CA certificate(s), PEM text, the server certificate must chain to (instead
 *   of Node's public CAs)
 */
export function createCaFetch(ca: string): typeof fetch {
  return async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:') return fetch(input, init);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = typeof init.body === 'string' ? init.body : undefined;
    const signal = init.signal ?? undefined;
    return new Promise<Response>((resolve, reject) => {
      const outgoing = request(
        url,
        { method: init.method ?? 'GET', headers, ca, ...(signal === undefined ? {} : { signal }) },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('error', reject);
          incoming.on('end', () => {
            const status = incoming.statusCode ?? 0;
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(incoming.headers)) {
              if (typeof value === 'string') responseHeaders.set(name, value);
              else if (Array.isArray(value))
                for (const each of value) responseHeaders.append(name, each);
            }
            resolve(
              new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), {
                status,
                statusText: incoming.statusMessage ?? '',
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  };
}
