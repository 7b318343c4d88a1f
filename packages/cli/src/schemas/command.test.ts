import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { avroReference, avroSchema, protobufReference, protobufSchema } from '@tributary/core';
import { InMemorySchemaRegistry } from '@tributary/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemasCommand } from './command.js';

let dir: string;
const declaration = (schemaVersion: number, properties: object) => ({
  aggregateType: 'Account',
  eventType: 'Opened',
  schemaVersion,
  format: 'JSON',
  recordName: 'Opened',
  schema: JSON.stringify({ type: 'object', properties, additionalProperties: false }),
});

async function schemasModule(name: string, declarations: object[]): Promise<string> {
  const path = join(dir, `${name}.mjs`);
  await writeFile(path, `export default ${JSON.stringify(declarations)};\n`);
  return path;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    output: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tributary-schemas-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tributary schemas', () => {
  it('registers the declared versions in order and sets the subject mode', async () => {
    const registry = new InMemorySchemaRegistry();
    const module = await schemasModule('v2', [
      declaration(2, { a: { type: 'string' }, b: { type: 'string' } }),
      declaration(1, { a: { type: 'string' } }),
    ]);
    const { out, output } = capture();
    expect(await schemasCommand(['register', '--schemas', module], output, { registry })).toBe(0);
    expect(await registry.versions('events.Account-Opened')).toEqual([1, 2]);
    expect(await registry.getCompatibility('events.Account-Opened')).toBe('BACKWARD');
    expect(out.join('\n')).toContain('Account/Opened v2 (JSON) → version 2');
  });

  it('passes a compatible change and fails a breaking one with the reason and exit code 1', async () => {
    const registry = new InMemorySchemaRegistry();
    const v1 = await schemasModule('base', [declaration(1, { a: { type: 'string' } })]);
    expect(
      await schemasCommand(['register', '--schemas', v1], capture().output, { registry }),
    ).toBe(0);

    const compatible = await schemasModule('ok', [
      declaration(1, { a: { type: 'string' } }),
      declaration(2, { a: { type: 'string' }, c: { type: 'integer' } }),
    ]);
    const ok = capture();
    expect(await schemasCommand(['check', '--schemas', compatible], ok.output, { registry })).toBe(
      0,
    );
    expect(ok.out.join('\n')).toContain('is BACKWARD-compatible');

    const breaking = await schemasModule('broken', [declaration(2, { a: { type: 'integer' } })]);
    const broken = capture();
    expect(
      await schemasCommand(['check', '--schemas', breaking], broken.output, { registry }),
    ).toBe(1);
    expect(broken.err.join('\n')).toMatch(
      /breaks BACKWARD compatibility[\s\S]*SUBSCHEMA_TYPE_CHANGED at \/properties\/a/,
    );
  });

  it('fails when the registry enforces another mode than the one checked', async () => {
    const registry = new InMemorySchemaRegistry();
    const v1 = await schemasModule('mode', [declaration(1, { a: { type: 'string' } })]);
    await schemasCommand(['register', '--schemas', v1, '--mode', 'NONE'], capture().output, {
      registry,
    });
    const result = capture();
    expect(await schemasCommand(['check', '--schemas', v1], result.output, { registry })).toBe(1);
    expect(result.err.join('\n')).toContain(
      'runs this subject under NONE, the check requires BACKWARD',
    );
  });

  it('answers usage errors with exit code 2 and a module without declarations with 1', async () => {
    const registry = new InMemorySchemaRegistry();
    expect(await schemasCommand(['verify'], capture().output, { registry })).toBe(2);
    expect(
      await schemasCommand(['check', '--schemas', 'x', '--mode', 'SIDEWAYS'], capture().output, {
        registry,
      }),
    ).toBe(2);
    const empty = await schemasModule('empty', [{ nope: true }]);
    const result = capture();
    expect(await schemasCommand(['check', '--schemas', empty], result.output, { registry })).toBe(
      1,
    );
    expect(result.err.join('\n')).toContain('must export');
  });

  it('sends HTTP basic auth from the environment and never prints the password', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error_code: 40101, message: 'Unauthorized' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const module = await schemasModule('auth', [declaration(1, { id: { type: 'string' } })]);
    const result = capture();
    try {
      const env = {
        SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}`,
        SCHEMA_REGISTRY_USERNAME: 'api-key',
        SCHEMA_REGISTRY_PASSWORD: 'api-secret-42',
      };
      expect(await schemasCommand(['check', '--schemas', module], result.output, { env })).toBe(1);
    } finally {
      server.close();
    }
    expect(seen[0]).toBe(`Basic ${Buffer.from('api-key:api-secret-42').toString('base64')}`);
    expect([...result.out, ...result.err].join('\n')).not.toContain('api-secret-42');
    const half = capture();
    expect(
      await schemasCommand(['check', '--schemas', module], half.output, {
        env: { SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1', SCHEMA_REGISTRY_USERNAME: 'api-key' },
      }),
    ).toBe(2);
    expect(half.err.join('\n')).toContain('SCHEMA_REGISTRY_PASSWORD');
    const noCa = capture();
    expect(
      await schemasCommand(['check', '--schemas', module], noCa.output, {
        env: {
          SCHEMA_REGISTRY_URL: 'https://127.0.0.1:1',
          SCHEMA_REGISTRY_CA_FILE: '/nonexistent/ca.pem',
        },
      }),
    ).toBe(2);
    expect(noCa.err.join('\n')).toContain(
      'SCHEMA_REGISTRY_CA_FILE (--registry-ca-file): cannot read /nonexistent/ca.pem (ENOENT)',
    );
  });

  describe('with schema references', () => {
    const money = avroReference({
      schema: {
        type: 'record',
        name: 'Money',
        namespace: 'bank',
        fields: [{ name: 'cents', type: 'long' }],
      },
    });
    const paid = avroSchema({
      aggregateType: 'Order',
      eventType: 'Paid',
      schema: {
        type: 'record',
        name: 'Paid',
        namespace: 'shop',
        fields: [{ name: 'amount', type: 'bank.Money' }],
      },
      references: [money],
    });
    const refunded = protobufSchema({
      aggregateType: 'Order',
      eventType: 'Refunded',
      schema:
        'syntax = "proto3";\npackage shop;\nimport "bank/money.proto";\nmessage Refunded { bank.Cents amount = 1; }\n',
      references: [
        protobufReference({
          path: 'bank/money.proto',
          schema: 'syntax = "proto3";\npackage bank;\nmessage Cents { int64 value = 1; }\n',
        }),
      ],
    });

    it('registers references first under their own subjects, then checks everything as registered', async () => {
      const registry = new InMemorySchemaRegistry();
      const module = await schemasModule('refs', [paid, refunded]);
      const { out, output } = capture();
      expect(await schemasCommand(['register', '--schemas', module], output, { registry })).toBe(0);
      expect(await registry.subjects()).toEqual([
        'bank.Money',
        'events.Order-Paid',
        'bank/money.proto',
        'events.Order-Refunded',
      ]);
      expect(await registry.getCompatibility('bank.Money')).toBe('BACKWARD');
      expect(out.join('\n')).toContain('✓ bank.Money: reference "bank.Money" registered');
      const checked = capture();
      expect(
        await schemasCommand(['check', '--schemas', module], checked.output, { registry }),
      ).toBe(0);
      expect(checked.out.join('\n')).toContain(
        '✓ bank.Money: reference "bank.Money" is registered',
      );
      expect(checked.out.join('\n')).toContain('Order/Paid v1 (AVRO) is registered');
    });

    it('reports a type used without a reference, and an unregistered reference, naming them', async () => {
      const registry = new InMemorySchemaRegistry();
      const unreferenced = await schemasModule('unreferenced', [{ ...paid, references: [] }]);
      const first = capture();
      expect(
        await schemasCommand(['check', '--schemas', unreferenced], first.output, { registry }),
      ).toBe(1);
      expect(first.err.join('\n')).toContain(
        'uses "bank.Money", which is not among its references [SCHEMA_REFERENCE_MISSING]',
      );

      // Paid v1 registered; v2 uses a changed Money that the registry does not hold yet.
      await schemasCommand(
        ['register', '--schemas', await schemasModule('refs-v1', [paid])],
        capture().output,
        { registry },
      );
      const money2 = avroReference({
        schema: {
          type: 'record',
          name: 'Money',
          namespace: 'bank',
          fields: [
            { name: 'cents', type: 'long' },
            { name: 'currency', type: 'string', default: 'EUR' },
          ],
        },
      });
      const v2 = await schemasModule('refs-v2', [
        paid,
        { ...paid, schemaVersion: 2, references: [money2] },
      ]);
      const second = capture();
      expect(await schemasCommand(['check', '--schemas', v2], second.output, { registry })).toBe(1);
      expect(second.out.join('\n')).toContain(
        '✓ bank.Money: reference "bank.Money" is new or BACKWARD-compatible',
      );
      expect(second.err.join('\n')).toContain(
        'Order/Paid v2 (AVRO) cannot be checked: its reference "bank.Money" is not registered under "bank.Money" [SCHEMA_REFERENCE_MISSING]',
      );
    });
  });
});
