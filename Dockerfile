# wecom-relay container: build with the same cargo command as the README, run as a non-root user.
#   docker build -t wecom-relay .
#   docker run -p 8080:8080 -e WECOM_RELAY_WECOM__SECRET=... -e WECOM_RELAY_SERVER__AUTH_TOKENS='["..."]' \
#     -v $PWD/config.toml:/etc/wecom-relay/config.toml:ro wecom-relay
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY templates ./templates
COPY tests ./tests
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/wecom-relay --create-home relay
COPY --from=build /src/target/release/wecom-relay /usr/local/bin/wecom-relay
COPY config.toml /etc/wecom-relay/config.toml
COPY templates /etc/wecom-relay/templates
USER relay
WORKDIR /var/lib/wecom-relay
ENV WECOM_RELAY_CONFIG=/etc/wecom-relay/config.toml \
    WECOM_RELAY_SERVER__LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["wecom-relay"]
CMD ["serve"]
