# banditjoin in a container: `docker build -t banditjoin .` then
# `docker run -p 8080:8080 -v banditjoin-data:/data banditjoin` (the embedded mode; add
# -e KAFKA_BROKERS=host:port for the distributed mode). deploy/compose.yaml runs it with Kafka,
# Prometheus and Grafana. scripts/dockerfile-steps.mjs runs the build steps below without a
# container engine (test/container/container.test.ts).

# Build: install from the lock file, compile only the service, then drop the dev dependencies.
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.service.json ./
COPY scripts/copy-assets.mjs scripts/
COPY src src/
RUN npm run build:service --silent && npm prune --omit=dev --no-audit --no-fund && mkdir data

# Run: the built service and its production dependencies, as the image's unprivileged user.
FROM node:26-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules/
COPY --from=build /app/dist/src dist/src/
# The data directory, owned by the user that writes it (a new named volume takes this owner).
COPY --from=build --chown=node:node /app/data /data/
USER node
VOLUME /data
EXPOSE 8080
# Slim images have no curl: node asks /healthz itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve"]
