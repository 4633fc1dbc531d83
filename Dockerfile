# colouriser web service: `colouriser serve` on port 8000, CPU only.
#   docker build -t colouriser .
#   docker run --rm -p 8000:8000 -e COLOURISER_WORKERS=2 colouriser
# (A .dockerignore with .venv/, runs/, out/ and .git/ keeps the build context small.)

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# The CPU build of torch (PyPI's default wheel pulls in gigabytes of CUDA libraries).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /build
COPY pyproject.toml README.md* ./
COPY src ./src
# The shipped model must be in src/colouriser/pretrained/default/ (it is package data).
RUN test -f src/colouriser/pretrained/default/model.safetensors \
 && pip install . \
 && python -c "import colouriser.server.app"

FROM python:3.11-slim-bookworm
COPY --from=build /opt/venv /opt/venv
RUN useradd --uid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin colouriser
WORKDIR /
USER 10001
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    COLOURISER_HOST=0.0.0.0 \
    COLOURISER_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# SIGTERM: stop accepting, finish the photos in flight (up to the time limit), stop the workers, exit.
STOPSIGNAL SIGTERM
ENTRYPOINT ["colouriser", "serve"]
