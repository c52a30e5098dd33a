# syntax=docker/dockerfile:1
# Backtrack container: the daemon by default (`backtrack daemon`).
#
# Build:  docker build -t backtrack .
# Run:    docker run --read-only --tmpfs /tmp -v backtrack-work:/var/lib/backtrack-work \
#           -v /etc/backtrack:/etc/backtrack:ro backtrack
#
# The runtime stage holds the one-file bundle (dist/backtrack.mjs, no
# node_modules), the status page (dist/status.html), the launcher, the shipped config examples and the client
# tools. It runs as uid 10001 and writes only to /var/lib/backtrack-work (the
# binlog spool, scratch servers, temporary files) and /tmp (the credential
# option files, opened without a name): both are volumes, so the root
# filesystem can be mounted read-only (docker --read-only, Kubernetes
# readOnlyRootFilesystem). The base image and every Debian package are pinned
# to a version; bump them together (test/unit/packaging/dockerfile.test.ts
# checks the rules this file keeps). Add the base image's digest
# (node:22.23.3-bookworm-slim@sha256:...) where your registry policy asks for it.

ARG NODE_IMAGE=node:22.23.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts/bundle.mjs ./scripts/bundle.mjs
RUN npm run build

FROM ${NODE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Client tools for dumps, restores and binlog streaming and replay, zstd and
# age for the object codecs, a server binary for spawn-mode drills, tini as
# PID 1 so SIGTERM reaches the daemon and children are reaped.
#
# The default image is for MariaDB sources: Debian 12's mariadb-client and
# mariadb-server-core (10.11). For MySQL sources, build with
#   docker build --build-arg MYSQL_VERSION=8.4.7 -t backtrack:mysql-8.4 .
# (an 8.0.x or 8.4.x release, at least the sources' version): the image then
# carries MySQL's own client tools (mysqldump, mysql, mysqlbinlog) and mysqld
# from MySQL's APT repository (repo.mysql.com), pinned to that release.
# Debian ships no MySQL client (its default-mysql-client is MariaDB's), and
# MariaDB's mysqlbinlog cannot read MySQL 8's compressed transactions or
# tagged GTIDs; `backtrack check` says which binlog tool is used and refuses a
# mismatch. npm, npx, corepack and yarn are removed: the bundle needs none.
ARG MARIADB_VERSION=1:10.11.19-0+deb12u1
ARG ZSTD_VERSION=1.5.4+dfsg2-5
ARG AGE_VERSION=1.1.1-1+b3
ARG CA_CERTIFICATES_VERSION=20230311+deb12u1
ARG TINI_VERSION=0.19.0-1+b3
ARG GNUPG_VERSION=2.2.40-1.1+deb12u2
ARG CURL_VERSION=7.88.1-10+deb12u15
ARG MYSQL_VERSION=
RUN set -eu; \
    apt-get update; \
    if [ -z "$MYSQL_VERSION" ]; then \
      apt-get install -y --no-install-recommends \
        mariadb-client="$MARIADB_VERSION" mariadb-server-core="$MARIADB_VERSION" \
        zstd="$ZSTD_VERSION" age="$AGE_VERSION" ca-certificates="$CA_CERTIFICATES_VERSION" tini="$TINI_VERSION"; \
    else \
      case "$MYSQL_VERSION" in \
        8.0.*) component=mysql-8.0 ;; \
        8.4.*) component=mysql-8.4-lts ;; \
        *) echo "MYSQL_VERSION must be an 8.0.x or 8.4.x release (got $MYSQL_VERSION)" >&2; exit 1 ;; \
      esac; \
      apt-get install -y --no-install-recommends \
        zstd="$ZSTD_VERSION" age="$AGE_VERSION" ca-certificates="$CA_CERTIFICATES_VERSION" tini="$TINI_VERSION" \
        gnupg="$GNUPG_VERSION" curl="$CURL_VERSION"; \
      curl -fsSL https://repo.mysql.com/RPM-GPG-KEY-mysql-2023 | gpg --dearmor > /usr/share/keyrings/mysql.gpg; \
      echo "deb [signed-by=/usr/share/keyrings/mysql.gpg] https://repo.mysql.com/apt/debian bookworm $component" > /etc/apt/sources.list.d/mysql.list; \
      apt-get update; \
      apt-get install -y --no-install-recommends \
        mysql-community-client="$MYSQL_VERSION-1debian12" mysql-community-server-core="$MYSQL_VERSION-1debian12"; \
      apt-get purge -y --auto-remove gnupg curl; \
      mysqlbinlog --version | grep -q "Ver $MYSQL_VERSION" || { echo "mysqlbinlog is not MySQL $MYSQL_VERSION:" >&2; mysqlbinlog --version >&2; exit 1; }; \
    fi; \
    rm -rf /var/lib/apt/lists/*; \
    rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-*
RUN groupadd --system --gid 10001 backtrack \
 && useradd --system --uid 10001 --gid backtrack --home-dir /var/lib/backtrack-work --no-create-home --shell /usr/sbin/nologin backtrack \
 && mkdir -p /var/lib/backtrack-work /etc/backtrack \
 && chown backtrack:backtrack /var/lib/backtrack-work
WORKDIR /app
COPY --from=build /app/dist/backtrack.mjs /app/dist/watchdog.sh /app/dist/status.html ./dist/
COPY package.json ./
COPY bin ./bin
COPY config ./config
ENV NODE_ENV=production \
    BACKTRACK_CONFIG=/etc/backtrack/backtrack.yaml
USER 10001:10001
VOLUME ["/var/lib/backtrack-work", "/tmp"]
EXPOSE 9464
# backtrack health reads the configuration: it follows http.listen, and sends the
# token when http.protectMetrics guards the health endpoints. --live asks whether
# the daemon itself is alive (/healthz), not whether its source and repository
# answer (/readyz): an orchestrator that restarts unhealthy containers must not
# restart the daemon in a loop while a source is down (the alerts say that).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s CMD ["/app/bin/backtrack", "health", "--live"]
ENTRYPOINT ["/usr/bin/tini", "--", "/app/bin/backtrack"]
CMD ["daemon"]
