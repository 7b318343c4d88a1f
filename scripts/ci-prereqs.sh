#!/usr/bin/env bash
# Installs what the local real stack needs on a fresh Debian/Ubuntu machine and pre-warms
# the download cache. Idempotent: on a machine that has everything it only checks and
# returns in about a second (plus the cache check).
#
#   PostgreSQL server binaries (initdb, pg_ctl)   apt: postgresql-15 (or the distro's default)
#   Java 17+ (java, jar)                          apt: openjdk-17-jdk-headless
#   Maven 3.8+ (mvn)                              apt: maven
#   Prometheus + promtool (deploy/ checks)        apt: prometheus
#   Chromium (status page e2e, headless)          apt: chromium
#   Kafka jars + Apicurio Registry                Maven Central, cached in ~/.cache/tributary
#   Python venv: confluent-kafka[avro,json,protobuf] + grpcio-tools (protoc), for the
#     interop test (packages/cli/src/schemas.e2e.test.ts)   PyPI, in ~/.cache/tributary/python-venv
#
# Usage: scripts/ci-prereqs.sh        (from anywhere; run before or after `npm ci`)
# Env:   TRIBUTARY_CACHE_DIR          cache location (default ~/.cache/tributary)
#        TRIBUTARY_PYTHON             a python with those packages instead of the venv
#        TRIBUTARY_SKIP_PREFETCH=1    only install, do not download Maven artifacts
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf '[ci-prereqs] %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root (or sudo) to run: $*"; exit 1
  fi
}

apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "missing $*, and no apt-get on this machine: install it by hand"; exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgres_server() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null 2>&1
}

# --- PostgreSQL server ----------------------------------------------------------------
if ! have_postgres_server; then
  # The launcher runs its own clusters; the distro's default cluster on port 5432 would
  # only take memory (and the port), so tell postgresql-common not to create one.
  apt_install postgresql-common
  if [ -f /etc/postgresql-common/createcluster.conf ]; then
    as_root sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  if apt-cache show postgresql-15 >/dev/null 2>&1; then apt_install postgresql-15
  else apt_install postgresql
  fi
  have_postgres_server || { log "PostgreSQL installed but initdb not found"; exit 1; }
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  # initdb refuses root; the launcher runs PostgreSQL as this user when it runs as root.
  log "creating the postgres OS user"
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# --- Java and Maven -------------------------------------------------------------------
java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
if ! command -v java >/dev/null 2>&1 || [ "$(java_major)" -lt 17 ]; then
  apt_install openjdk-17-jdk-headless
fi
if ! command -v mvn >/dev/null 2>&1; then
  apt_install maven
fi
# Prometheus and promtool: the deploy/ rules checks and the real-Prometheus scrape test.
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  apt_install prometheus
fi

# --- Python client of the interop test --------------------------------------------------
# Confluent's own client checks that Tributary's records decode with deserializers nobody
# here wrote. Pinned, so a new release cannot change the test's verdict overnight.
python_requirements=(confluent-kafka[avro,json,protobuf]==2.16.1 grpcio-tools==1.85.1)
venv="${TRIBUTARY_CACHE_DIR:-$HOME/.cache/tributary}/python-venv"
venv_ready() {
  "$venv/bin/python" - "${python_requirements[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
for requirement in sys.argv[1:]:
    name, wanted = requirement.split("==")
    if version(name.split("[")[0]) != wanted:
        sys.exit(1)
import confluent_kafka.schema_registry.protobuf, confluent_kafka.schema_registry.avro  # noqa
import confluent_kafka.schema_registry.json_schema, grpc_tools.protoc  # noqa
PY
}
if [ -z "${TRIBUTARY_PYTHON:-}" ] && ! venv_ready; then
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3 python3-venv
  fi
  log "creating $venv (${python_requirements[*]})"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "${python_requirements[@]}"
  venv_ready || { log "the Python venv at $venv is not usable"; exit 1; }
fi

# Chromium: the status page's browser test (packages/cli/src/status-page.e2e.test.ts).
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi

log "postgres: $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -n1 || command -v initdb)"
log "java: $(java -version 2>&1 | head -n1)"
log "python: ${TRIBUTARY_PYTHON:-$venv/bin/python}"
log "mvn: $(mvn -v 2>/dev/null | head -n1 | sed 's/\x1b\[[0-9;]*m//g')"

# --- Download cache -------------------------------------------------------------------
if [ "${TRIBUTARY_SKIP_PREFETCH:-0}" = "1" ]; then
  log "skipping the download pre-warm (TRIBUTARY_SKIP_PREFETCH=1)"
  exit 0
fi
if [ -x "$repo_root/node_modules/.bin/tsx" ]; then
  # After `npm ci`: fill the launcher's own cache, exactly as `stack:up` would.
  log "pre-warming the stack cache (npm run stack:prefetch)"
  (cd "$repo_root" && node_modules/.bin/tsx packages/testing/src/stack/cli.ts prefetch)
else
  # Before `npm ci`: put the artifacts into the local Maven repository; the launcher then
  # fills its cache from there without network. Versions come from the one config file.
  config="$repo_root/packages/testing/src/stack/config.ts"
  kafka_version="$(sed -n "s/.*TRIBUTARY_KAFKA_VERSION'\] ?? '\([^']*\)'.*/\1/p" "$config")"
  apicurio_version="$(sed -n "s/.*TRIBUTARY_APICURIO_VERSION'\] ?? '\([^']*\)'.*/\1/p" "$config")"
  log4j_version="$(sed -n "s/.*log4jVersion: '\([^']*\)'.*/\1/p" "$config")"
  log "pre-warming ~/.m2: kafka_2.13 $kafka_version, log4j $log4j_version, apicurio $apicurio_version"
  mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
    -Dartifact="org.apache.kafka:kafka_2.13:$kafka_version"
  mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
    -Dartifact="org.apache.logging.log4j:log4j-slf4j-impl:$log4j_version"
  # 2.8: Apicurio's zip names a parent pom that is not on Maven Central (see downloads.ts).
  mvn -B -q -Dstyle.color=never org.apache.maven.plugins:maven-dependency-plugin:2.8:get \
    -Dartifact="io.apicurio:apicurio-registry-app:$apicurio_version:zip:all" -Dtransitive=false
fi
log "done"
