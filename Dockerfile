# The fleetsim image, for the Kubernetes example in README.md ("Sweeps, shards
# and merge"):
#
#   docker build -t fleetsim .
#   docker run --rm fleetsim list
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" fleetsim run steady_load
#
# Not built in CI (the CI machines cannot pull base images).

# Build: the toolchain the crate asks for (rust-version 1.95), on Debian
# bookworm like the runtime image, so the binary needs no newer glibc than the
# runtime has.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && cp target/release/fleetsim /usr/local/bin/fleetsim

# Runtime: the binary links only libc, libm and libgcc_s, and carries its
# fonts and built-in scenarios inside it. bookworm-slim rather than a
# distroless image because the Kubernetes example runs `sh -c` to expand
# $JOB_COMPLETION_INDEX.
FROM debian:bookworm-slim
COPY --from=build /usr/local/bin/fleetsim /usr/local/bin/fleetsim
RUN useradd --uid 10001 --user-group --home-dir /work --create-home fleetsim
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["fleetsim"]
CMD ["--help"]
