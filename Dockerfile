# syntax=docker/dockerfile:1
# Backtrack container: the daemon by default (`backtrack daemon`).
# Build:  docker build -t backtrack .
# Run:    docker run -v /etc/backtrack:/etc/backtrack:ro -e BACKTRACK_CONFIG=/etc/backtrack/backtrack.yaml backtrack

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
# Client tools for dumps, restores and binlog streaming (MariaDB's work
# against MariaDB; for MySQL sources install MySQL's own client tools in a
# derived image and set tools.* in the config), zstd and age for the
# object codecs, mariadb-server-core for spawn-mode drills, tini as PID 1 so
# SIGTERM reaches the daemon and children are reaped.
RUN apt-get update \
 && apt-get install -y --no-install-recommends mariadb-client mariadb-server-core zstd age ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system backtrack \
 && useradd --system --gid backtrack --home-dir /var/lib/backtrack --shell /usr/sbin/nologin backtrack \
 && mkdir -p /var/lib/backtrack /var/lib/backtrack-work /etc/backtrack \
 && chown backtrack:backtrack /var/lib/backtrack /var/lib/backtrack-work
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
ENV NODE_ENV=production \
    BACKTRACK_CONFIG=/etc/backtrack/backtrack.yaml
USER backtrack
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/backtrack"]
CMD ["daemon"]
