import { describe, expect, it } from 'vitest';
import { mavenLibrariesPom } from './downloads.js';

describe('mavenLibrariesPom', () => {
  it('declares every artifact as a dependency, in order, with XML text escaped', () => {
    const pom = mavenLibrariesPom('kafka-connect-4.1.2', [
      { groupId: 'org.apache.kafka', artifactId: 'connect-runtime', version: '4.1.2' },
      { groupId: 'io.debezium', artifactId: 'debezium-connector-postgres', version: '3.6.1.Final' },
      { groupId: 'g', artifactId: 'a<&>', version: '1' },
    ]);
    const dependencies = [
      ...pom.matchAll(
        /<dependency>\s*<groupId>(.*)<\/groupId>\s*<artifactId>(.*)<\/artifactId>\s*<version>(.*)<\/version>/g,
      ),
    ].map((match) => match.slice(1).join(':'));
    expect(dependencies).toEqual([
      'org.apache.kafka:connect-runtime:4.1.2',
      'io.debezium:debezium-connector-postgres:3.6.1.Final',
      'g:a&lt;&amp;&gt;:1',
    ]);
    expect(pom).toContain('<packaging>pom</packaging>');
  });
});
