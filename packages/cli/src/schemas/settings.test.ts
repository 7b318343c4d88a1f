import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../output.js';
import { schemaOptions, schemaSettingsFrom, schemaUsage, SCHEMA_SETTINGS } from './settings.js';

describe('schema settings of capture and project', () => {
  it('default to plain JSON: no module, no registry', () => {
    expect(schemaSettingsFrom('capture', {}, {})).toEqual({
      registration: 'auto',
      subjectStrategy: 'topic-record',
      undeclared: 'fail',
    });
  });

  it('take flags over the environment over the file; a file module is relative to the file', () => {
    const file = {
      path: '/etc/tributary/capture.json',
      settings: {
        module: './schemas.js',
        registryUrl: 'http://file',
        registration: 'pre-registered',
        subjectStrategy: 'record',
      },
    };
    expect(schemaSettingsFrom('capture', {}, {}, file)).toMatchObject({
      module: '/etc/tributary/schemas.js',
      registryUrl: 'http://file',
      registration: 'pre-registered',
      subjectStrategy: 'record',
    });
    const env = { SCHEMA_REGISTRY_URL: 'http://env', TRIBUTARY_SUBJECT_STRATEGY: 'topic' };
    expect(schemaSettingsFrom('capture', {}, env, file)).toMatchObject({
      registryUrl: 'http://env',
      subjectStrategy: 'topic',
    });
    expect(
      schemaSettingsFrom('capture', { 'registry-url': 'http://flag', schemas: 'x.js' }, env, file),
    ).toMatchObject({ registryUrl: 'http://flag', module: resolve('x.js') });
  });

  it('read basic-auth credentials, both or neither', () => {
    expect(
      schemaSettingsFrom(
        'project',
        {},
        {
          SCHEMA_REGISTRY_URL: 'http://r',
          SCHEMA_REGISTRY_USERNAME: 'key',
          SCHEMA_REGISTRY_PASSWORD: 'secret',
        },
      ).auth,
    ).toEqual({ username: 'key', password: 'secret' });
    expect(() => schemaSettingsFrom('project', {}, { SCHEMA_REGISTRY_USERNAME: 'key' })).toThrow(
      /both a username and a password; only SCHEMA_REGISTRY_USERNAME is set/,
    );
  });

  it('refuse a value outside the accepted ones, naming its source', () => {
    expect(() =>
      schemaSettingsFrom('capture', {}, { TRIBUTARY_SCHEMA_REGISTRATION: 'lazy' }),
    ).toThrow(
      new UsageError('TRIBUTARY_SCHEMA_REGISTRATION must be auto, pre-registered, not lazy'),
    );
    expect(() =>
      schemaSettingsFrom('capture', {}, {}, { path: 'c.json', settings: { subjectStrategy: 'x' } }),
    ).toThrow(/schemas.subjectStrategy of c.json must be topic-record, topic, record, not x/);
  });

  it('read the registry CA file, relative to a config file, and refuse an unreadable one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tributary-schema-ca-'));
    writeFileSync(join(dir, 'ca.pem'), 'PEM TEXT');
    expect(
      schemaSettingsFrom(
        'project',
        {},
        {},
        { path: join(dir, 'c.json'), settings: { caFile: 'ca.pem' } },
      ).ca,
    ).toBe('PEM TEXT');
    expect(schemaSettingsFrom('capture', { 'registry-ca-file': join(dir, 'ca.pem') }, {}).ca).toBe(
      'PEM TEXT',
    );
    expect(() =>
      schemaSettingsFrom('capture', {}, { SCHEMA_REGISTRY_CA_FILE: join(dir, 'missing.pem') }),
    ).toThrow(
      new UsageError(`SCHEMA_REGISTRY_CA_FILE: cannot read ${join(dir, 'missing.pem')} (ENOENT)`),
    );
  });

  it('refuse a module without a registry', () => {
    expect(() => schemaSettingsFrom('capture', { schemas: 's.js' }, {})).toThrow(
      /--schemas asks for registry encoding but no registry is set/,
    );
  });

  it('give every setting a flag, an environment name and a help line', () => {
    for (const setting of SCHEMA_SETTINGS) {
      for (const command of setting.commands) {
        expect(schemaOptions(command)[setting.flag]).toEqual({ type: 'string' });
        expect(schemaUsage(command)).toContain(`--${setting.flag} `);
        expect(schemaUsage(command)).toContain(`env ${setting.env}`);
      }
    }
  });
});
