# One image for octopus-controller, octopus-webhooks and octopus-data, the import Jobs' program
# (the chart picks the entry point; import Jobs run `octopus-data import`).
# Build: docker build -t octopus:dev .

FROM docker.io/library/node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No package needs an install script to work (checked: npm 11 skips them by default).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY apis apis
COPY controllers controllers
COPY webhooks webhooks
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM docker.io/library/node:20-bookworm-slim
ENV NODE_ENV=production
# octopus-data copies git sources with Debian's git; ca-certificates for https sources.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*
# The heap cap is controllers/octopus-data/node-flags.ts: it keeps a copy's resident size under 150 MiB.
RUN printf '#!/bin/sh\nexec node --max-old-space-size=96 /app/dist/controllers/octopus-data/main.js "$@"\n' > /usr/local/bin/octopus-data \
 && chmod 755 /usr/local/bin/octopus-data
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The chart runs the containers as 65532 with a read-only root filesystem; nothing is written here.
USER 65532:65532
ENTRYPOINT ["node"]
CMD ["dist/controllers/main.js", "--help"]
