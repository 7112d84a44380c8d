# syntax=docker/dockerfile:1
# The `plangen` image: every service binary subcommand plus the built SPA. Build from the
# repository root:
#   docker build -f operator/plangen.Dockerfile -t ghcr.io/plangen/plangen:0.1.0 .
# The operator runs it as `plangen gateway|auth|template|plan|frontend` and `plangen migrate`.

FROM node:22-bookworm-slim AS spa
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
# Profile-guided build (services/plangen/pgo-build.sh): llvm-profdata from rustup, and
# PostgreSQL and Redis for the training run of the services as deployed (MongoDB is not in
# Debian: template and plan train on SQLite and the embedded store).
RUN rustup component add llvm-tools \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql redis-server \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
COPY --from=spa /src/frontend/dist frontend/dist
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    pg_ctlcluster 15 main start \
 && su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'pgo'\"" \
 && su postgres -c "createdb plangen_pgo" \
 && redis-server --daemonize yes --save '' --appendonly no \
 && PGO_DATABASE_URL=postgres://postgres:pgo@127.0.0.1:5432/plangen_pgo \
    services/plangen/pgo-build.sh /plangen \
 && redis-cli shutdown nosave && pg_ctlcluster 15 main stop

# distroless/cc: glibc and CA certificates, no shell, uid 65532 — matches the operator's
# runAsUser and readOnlyRootFilesystem (the services write only to /tmp, an emptyDir).
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=build /plangen /usr/local/bin/plangen
COPY --from=spa /src/frontend/dist /app/frontend/dist
ENV PLANGEN_SPA_DIR=/app/frontend/dist
USER 65532:65532
EXPOSE 3000 3001 3002 3003 5173
ENTRYPOINT ["/usr/local/bin/plangen"]
CMD ["all"]
