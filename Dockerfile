# One image for every role; the command picks it: coordinator, participant or chaos.
#   docker compose up -d --build
# npm needs the registry during the build, or a filled .npm-cache/ beside this
# file (`npm run docker:cache`), which the build then uses offline.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY .npm-cache /tmp/npm-cache
RUN if [ -d /tmp/npm-cache/_cacache ]; then npm ci --offline --cache /tmp/npm-cache --no-audit --no-fund; else npm ci --no-audit --no-fund; fi
COPY tsconfig.json tsconfig.build.json ./
COPY shared shared
COPY services services
COPY scripts scripts
RUN npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY .npm-cache /tmp/npm-cache
RUN if [ -d /tmp/npm-cache/_cacache ]; then npm ci --omit=dev --offline --cache /tmp/npm-cache --no-audit --no-fund; else npm ci --omit=dev --no-audit --no-fund; fi \
 && rm -rf /tmp/npm-cache /root/.npm

FROM node:20-bookworm-slim
# The store is a directory inside the volume, not its mount point: a replica rebuild swaps it in by a rename.
ENV NODE_ENV=production DATA_DIR=/data/db
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist/shared dist/shared
COPY --from=build /app/dist/services dist/services
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
ENTRYPOINT ["node", "--enable-source-maps", "dist/services/role.js"]
CMD ["coordinator"]
