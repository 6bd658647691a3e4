# One image for both roles: `palisade controller` (Deployment) and `palisade agent` (DaemonSet); the first argument
# picks the role. CI builds this file's build stage without a Docker engine: scripts/check-image-build.mjs copies what
# the COPY lines name into an empty directory and runs the RUN lines there.
#
# Base image pinned by digest. node:20-bookworm-slim@sha256:2cf067cf… is the digest several public repositories pin
# for that tag; it was not checked against the registry from here (no Docker engine or registry client). Before a
# release, check and bump it: `docker buildx imagetools inspect node:20-bookworm-slim`.
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
COPY scripts ./scripts
RUN npm run build
RUN npm prune --omit=dev

FROM ${NODE_IMAGE}
# nft and ip are what the agent drives on the node, tcpdump reads its NFLOG flow logs; the controller uses none.
RUN apt-get update \
    && apt-get install -y --no-install-recommends nftables iproute2 tcpdump \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# Owned by root, so the process (uid 1000) cannot change its own code.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Not root: the image's own user `node` (uid 1000). The controller runs as it; the agent's DaemonSet sets runAsUser 0
# with only NET_ADMIN, which nftables in the host network namespace needs.
USER 1000:1000
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["--help"]
