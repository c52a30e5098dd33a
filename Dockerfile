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
# Client tools for dumps, restores and binlog streaming and replay, zstd and
# age for the object codecs, a server binary for spawn-mode drills, tini as
# PID 1 so SIGTERM reaches the daemon and children are reaped.
#
# The default image is for MariaDB sources: Debian's mariadb-client and
# mariadb-server-core. For MySQL sources, build with
#   docker build --build-arg MYSQL_CLIENT=8.4 -t backtrack:mysql-8.4 .
# (8.0 or 8.4: at least the sources' version): the image then carries MySQL's
# own client tools (mysqldump, mysql, mysqlbinlog) and mysqld from MySQL's
# APT repository (repo.mysql.com) instead. Debian ships no MySQL client (its
# default-mysql-client is MariaDB's), and MariaDB's mysqlbinlog cannot read
# MySQL 8's compressed transactions or tagged GTIDs; `backtrack check` says
# which binlog tool is used and refuses a mismatch.
ARG MYSQL_CLIENT=
RUN set -eu; \
    apt-get update; \
    if [ -z "$MYSQL_CLIENT" ]; then \
      apt-get install -y --no-install-recommends mariadb-client mariadb-server-core zstd age ca-certificates tini; \
    else \
      case "$MYSQL_CLIENT" in \
        8.0) component=mysql-8.0 ;; \
        8.4) component=mysql-8.4-lts ;; \
        *) echo "MYSQL_CLIENT must be 8.0 or 8.4 (got $MYSQL_CLIENT)" >&2; exit 1 ;; \
      esac; \
      apt-get install -y --no-install-recommends zstd age ca-certificates tini gnupg curl; \
      curl -fsSL https://repo.mysql.com/RPM-GPG-KEY-mysql-2023 | gpg --dearmor > /usr/share/keyrings/mysql.gpg; \
      echo "deb [signed-by=/usr/share/keyrings/mysql.gpg] https://repo.mysql.com/apt/debian bookworm $component" > /etc/apt/sources.list.d/mysql.list; \
      apt-get update; \
      apt-get install -y --no-install-recommends mysql-community-client mysql-community-server-core; \
      apt-get purge -y --auto-remove gnupg curl; \
      mysqlbinlog --version | grep -q "Ver $MYSQL_CLIENT\." || { echo "mysqlbinlog is not MySQL $MYSQL_CLIENT:" >&2; mysqlbinlog --version >&2; exit 1; }; \
    fi; \
    rm -rf /var/lib/apt/lists/*
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
# backtrack health reads the configuration: it follows http.listen, and sends the
# token when http.protectMetrics guards the health endpoints.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s CMD ["/app/bin/backtrack", "health"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/backtrack"]
CMD ["daemon"]
