# syntax=docker/dockerfile:1
#
# evpn-agent image: one `deno compile` executable on alpine, plus iproute2
# (`ip`, `bridge`) for looking at links and FDB entries from inside the pod.
#
#   docker build -t evpn-agent:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/evpn-agent:TAG --push .
#
# Why glibc on alpine, and how: `deno compile` only produces glibc executables
# (there is no musl target), and the agent loads libnl-route-3 with dlopen
# from that glibc process, so libnl must be a glibc build too: alpine's
# libnl3 is linked against musl and cannot be loaded. The runtime stage
# therefore carries a private glibc taken, together with libnl-3 and
# libnl-route-3, from one Debian release (so they match each other):
#   - the libraries go to /lib/<multiarch triple>/ (e.g. /lib/x86_64-linux-gnu),
#     a directory that Debian's glibc loader searches by default and that
#     alpine's musl loader never looks at;
#   - the glibc loader goes where the executable's PT_INTERP names it
#     (/lib64/ld-linux-x86-64.so.2, /lib/ld-linux-aarch64.so.1).
# No LD_LIBRARY_PATH is set: musl programs (iproute2, busybox) would honour it
# too and could pick up glibc libraries. (The official denoland/deno alpine
# image solves the same problem with glibc from distroless/cc; that one has no
# libnl, hence Debian here.) The last RUN checks that both the executable and
# libnl-route-3 resolve against this glibc.

ARG DENO_VERSION=2.9.6
ARG DEBIAN_RELEASE=bookworm
ARG ALPINE_VERSION=3.20

# ---- build: the official Deno image compiles for the target platform.
# It runs on the build machine's platform; `--target` cross-compiles.
FROM --platform=$BUILDPLATFORM denoland/deno:debian-${DENO_VERSION} AS build
ARG TARGETARCH
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src/ src/
COPY scripts/build.sh scripts/build.sh
RUN set -eu; \
    case "${TARGETARCH:-amd64}" in \
      amd64) target=x86_64-unknown-linux-gnu ;; \
      arm64) target=aarch64-unknown-linux-gnu ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}: amd64 or arm64" >&2; exit 1 ;; \
    esac; \
    bash scripts/build.sh --target "$target" --output /out/evpn-agent

# ---- glibc: the C library, its loader and libnl-route-3 from Debian, laid
# out under /rootfs exactly as they will sit in the runtime image.
FROM debian:${DEBIAN_RELEASE}-slim AS glibc
RUN apt-get update \
 && apt-get install -y --no-install-recommends libnl-route-3-200 \
 && rm -rf /var/lib/apt/lists/*
RUN set -eu; \
    case "$(uname -m)" in \
      x86_64) triple=x86_64-linux-gnu; loader=/lib64/ld-linux-x86-64.so.2 ;; \
      aarch64) triple=aarch64-linux-gnu; loader=/lib/ld-linux-aarch64.so.1 ;; \
      *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;; \
    esac; \
    mkdir -p "/rootfs/lib/$triple" "/rootfs$(dirname "$loader")"; \
    for lib in libc.so.6 libm.so.6 libdl.so.2 librt.so.1 libpthread.so.0 libgcc_s.so.1 \
               libnl-3.so.200 libnl-route-3.so.200; do \
      src="/usr/lib/$triple/$lib"; [ -e "$src" ] || src="/lib/$triple/$lib"; \
      cp -L "$src" "/rootfs/lib/$triple/$lib"; \
    done; \
    cp -L "$loader" "/rootfs/lib/$triple/$(basename "$loader")"; \
    ln -s "/lib/$triple/$(basename "$loader")" "/rootfs$loader"; \
    echo "$loader" > "/rootfs/lib/$triple/.glibc-loader"

# ---- runtime
FROM alpine:${ALPINE_VERSION}
RUN apk add --no-cache iproute2
COPY --from=glibc /rootfs/ /
COPY --from=build /out/evpn-agent /usr/local/bin/evpn-agent
# Must equal src/version.ts (tests/compiled_test.ts checks it); the smoke check
# below compares what the executable says.
ARG VERSION=0.1.0
ARG ALPINE_VERSION
RUN set -eu; \
    said="$(evpn-agent --version)"; \
    [ "$said" = "evpn-agent ${VERSION}" ] || { \
      echo "evpn-agent --version says \"$said\", not \"evpn-agent ${VERSION}\"" >&2; exit 1; }; \
    loader="$(cat /lib/*-linux-gnu/.glibc-loader)"; \
    "$loader" --list /lib/*-linux-gnu/libnl-route-3.so.200
# Runs as root: the capabilities the chart grants (NET_ADMIN only) are not
# effective for a non-root user without ambient capabilities.
LABEL org.opencontainers.image.title="evpn-agent" \
      org.opencontainers.image.description="EVPN/VXLAN control-plane agent: GoBGP RIB to kernel VXLAN flood entries" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="alpine:${ALPINE_VERSION}"
ENTRYPOINT ["/usr/local/bin/evpn-agent"]
CMD ["--config", "/etc/evpn-agent/config.yaml"]
