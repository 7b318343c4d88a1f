# The `tributary` command (capture, project, migrate, status, …) as a container image.
#
# NOT BUILT OR RUN HERE: the machine this repository is developed on has no Docker engine,
# so this file has never been built. It is deliberately minimal and does only what CI does
# with the command: install the workspace's runtime dependencies and run
# packages/cli/bin/tributary.mjs, which executes the TypeScript sources through tsx (a
# runtime dependency of @tributary/cli). Build and smoke-test it before relying on it:
#
#   docker build -t tributary .
#   docker run --rm tributary --help
#
# Projections are user code: build an image FROM this one that copies your projections
# module and pass it with `project --module` (deploy/k8s/projections.yaml shows how).
FROM node:20.19-bookworm-slim

ENV NODE_ENV=production
WORKDIR /opt/tributary

# Manifests first, so the dependency layer is cached until a package.json changes.
COPY package.json package-lock.json ./
COPY packages ./packages
COPY examples ./examples
COPY benchmarks ./benchmarks
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# Never run as root; the `node` user comes with the base image.
USER node
# The metrics, /healthz and /readyz port used by deploy/k8s (TRIBUTARY_METRICS_PORT).
EXPOSE 9464
ENTRYPOINT ["node", "/opt/tributary/packages/cli/bin/tributary.mjs"]
CMD ["--help"]
