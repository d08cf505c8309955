# Clicktrail in a container: one binary on its embedded store, data in the /data volume.
#   docker build -t clicktrail .
#   docker run -p 8080:8080 -v clicktrail-data:/data clicktrail
# The first start prints the admin key in the container's log (`docker logs`), or set
# CLICKTRAIL_ADMIN_KEY. See docs/DEPLOYMENT.md.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p clicktrail \
 && install -m 0755 target/release/clicktrail /usr/local/bin/clicktrail

FROM debian:bookworm-slim
# CA roots for postbacks over HTTPS; tini forwards SIGTERM so shutdown drains the click buffer.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin clicktrail \
 && mkdir -m 0700 /data && chown clicktrail:clicktrail /data
COPY --from=build /usr/local/bin/clicktrail /usr/local/bin/clicktrail
USER clicktrail
ENV CLICKTRAIL_DATA_DIR=/data \
    CLICKTRAIL_LISTEN=0.0.0.0:8080 \
    CLICKTRAIL_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/clicktrail"]
CMD ["serve"]
