# One image for both roles: `controller` (Deployment) and `agent` (DaemonSet); the first argument picks the role.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
# nft and ip are what the agent drives on the node, tcpdump reads its NFLOG flow logs; the controller uses none.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nftables iproute2 tcpdump \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Root by default because the agent needs NET_ADMIN; the controller's Deployment runs it as uid 1000 (user `node`).
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
