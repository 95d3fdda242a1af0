# The bulwark image: one executable for every subcommand (controller, authz, ratelimit, injector,
# intercept, render); the entrypoint is `bulwark`. It runs as uid 65532 on a read-only root filesystem and
# contains Node.js, the compiled JavaScript and the production dependencies only.
#
#   docker build -t bulwark:0.1.0 \
#     --build-arg BULWARK_COMMIT="$(git rev-parse HEAD)" \
#     --build-arg BULWARK_BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#
# The local test environment builds the same file with buildah from base images it constructs
# from Debian packages and the Node.js binary (test/env/images), under the same names.

ARG NODE_VERSION=24.22.3
ARG DEBIAN_RELEASE=bookworm

# Compiles TypeScript to dist/ (npm run build); dev dependencies stay in this stage.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:js \
 && main="$(node -p 'require("./package.json").bin.bulwark')" \
 && chmod 0755 "$main" \
 && mkdir -p /out/bin \
 && ln -s "/app/$main" /out/bin/bulwark
# Last, so that a new commit or date rebuilds only this step.
ARG BULWARK_COMMIT
ARG BULWARK_BUILD_DATE
RUN npm run build:info

# Production dependencies only, installed from the lock file without running package scripts.
FROM node:${NODE_VERSION}-${DEBIAN_RELEASE}-slim AS production-dependencies
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime: Debian's slim base, the node binary alone (no npm, no compiler), the compiled code and
# the production dependencies.
FROM debian:${DEBIAN_RELEASE}-slim
# iptables (Debian's, nftables backend) for `bulwark intercept`: the init container the injector adds
# to every pod runs it once, as root with NET_ADMIN and NET_RAW only, to redirect the pod's inbound
# app-port traffic to its sidecar. Every other subcommand runs as 65532 and never calls it.
# First in the stage, so that a new build of the code reuses this layer.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/apt /var/log/dpkg.log
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=production-dependencies /src/node_modules ./node_modules
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
COPY --from=build /out/bin/ /usr/local/bin/
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
USER 65532:65532
ENTRYPOINT ["bulwark"]
CMD ["--help"]
# Last, so that a new commit or date changes only the image's configuration.
ARG BULWARK_COMMIT
ARG BULWARK_BUILD_DATE
LABEL org.opencontainers.image.title="bulwark" \
      org.opencontainers.image.description="Kubernetes operator that protects the backend APIs of mobile apps with Envoy sidecars configured over xDS" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${BULWARK_COMMIT}" \
      org.opencontainers.image.created="${BULWARK_BUILD_DATE}"
