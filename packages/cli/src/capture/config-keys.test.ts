import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError, resolveCaptureConfig } from '@tributary/outbox';
import { afterAll, describe, expect, it } from 'vitest';
import { editDistance, unknownConfigKeys, type ConfigShape } from '../config/known-keys.js';
import { captureCommand } from './command.js';
import { assertKnownCaptureKeys, CAPTURE_FILE_SHAPE } from './config-keys.js';

const sections = Object.entries(CAPTURE_FILE_SHAPE as Record<string, ConfigShape>).filter(
  (entry): entry is [string, Record<string, ConfigShape>] => typeof entry[1] === 'object',
);

/** A one-letter typo: the last letter doubled. */
const typo = (key: string): string => `${key}${key.slice(-1)}`;

const errorOf = (file: unknown): CaptureError => {
  try {
    assertKnownCaptureKeys(file, 'capture.json');
  } catch (error) {
    if (error instanceof CaptureError) return error;
    throw error;
  }
  throw new Error('no error');
};

describe('unknown keys of a capture config file', () => {
  it('has every section under test', () => {
    expect(sections.map(([name]) => name).sort()).toEqual(
      ['batch', 'kafka', 'metrics', 'outbox', 'router', 'schemas', 'slot', 'topics'].sort(),
    );
  });

  it.each(sections.flatMap(([section, shape]) => Object.keys(shape).map((key) => [section, key])))(
    'a misspelt %s.%s is an error naming it and the valid key',
    (section, key) => {
      const error = errorOf({ [section]: { [typo(key)]: 1 } });
      expect(error.code).toBe('CAPTURE_CONFIG_INVALID');
      expect(error.message).toContain(
        `unknown key "${section}.${typo(key)}" (did you mean "${section}.${key}"?)`,
      );
    },
  );

  it.each(
    Object.entries(CAPTURE_FILE_SHAPE as Record<string, ConfigShape>)
      .filter(([, shape]) => shape === 'value')
      .map(([key]) => key),
  )('a misspelt top-level %s is an error naming it and the valid key', (key) => {
    expect(errorOf({ [typo(key)]: 1 }).message).toContain(
      `unknown key "${typo(key)}" (did you mean "${key}"?)`,
    );
  });

  it('accepts the Kafka security keys and names a misspelt one (kafka.tls, kafka.sasl)', () => {
    expect(
      unknownConfigKeys(
        {
          kafka: {
            tls: { caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem', serverName: 'b' },
            sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFile: '/run/p' },
          },
        },
        CAPTURE_FILE_SHAPE,
      ),
    ).toEqual([]);
    expect(errorOf({ kafka: { sasl: { passwordFil: '/run/p' } } }).message).toContain(
      'unknown key "kafka.sasl.passwordFil" (did you mean "kafka.sasl.passwordFile"?)',
    );
  });

  it('checks nested sections (router.columns) and lists every unknown key', () => {
    const error = errorOf({
      router: { columns: { payloadd: 'body' } },
      schemaRegistry: { url: 'http://registry' },
    });
    expect(error.message).toContain(
      'unknown key "router.columns.payloadd" (did you mean "router.columns.payload"?)',
    );
    expect(error.message).toContain('unknown key "schemaRegistry" (did you mean "schemas"?)');
  });

  it('suggests the section a key belongs to when it is given at the wrong level', () => {
    expect(errorOf({ brokers: ['k:9092'] }).message).toContain(
      'unknown key "brokers" (did you mean "kafka.brokers"?)',
    );
  });

  it('accepts every key of a resolved config, the CLI sections and free header names', () => {
    const resolved = resolveCaptureConfig({
      databaseUrl: 'postgres://x',
      kafka: { brokers: ['k'] },
    });
    expect(unknownConfigKeys(resolved, CAPTURE_FILE_SHAPE)).toEqual([]);
    expect(
      unknownConfigKeys(
        {
          kafka: { client: 'kafkajs' },
          metrics: { port: 9464, host: '127.0.0.1' },
          schemas: { module: './s.js', registryUrl: 'http://r', registration: 'auto' },
          router: { additionalHeaders: { anything: 'payload.x' } },
        },
        CAPTURE_FILE_SHAPE,
      ),
    ).toEqual([]);
  });

  it('measures edit distance case-insensitively', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('databaseURL', 'databaseUrl')).toBe(0);
  });
});

const dir = await mkdtemp(join(tmpdir(), 'tributary-config-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('tributary capture --config with an unknown key', () => {
  it('refuses to start, naming the key', async () => {
    const path = join(dir, 'capture.json');
    await writeFile(path, JSON.stringify({ schemaRegistry: { url: 'http://r' } }));
    const output = { out: () => undefined, err: () => undefined };
    await expect(
      captureCommand(['--config', path], output, { env: {}, stopSignal: Promise.resolve() }),
    ).rejects.toThrow(/unknown key "schemaRegistry" \(did you mean "schemas"\?\)/);
  });
});
