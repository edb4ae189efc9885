# ComplaintOps image: one image for every service; the command picks the role
# (`consume metrics`, `consume store`, `scheduler`, `serve`, `db upgrade`, ...).
#
#   docker build -t complaintops:latest .
#   docker run --rm complaintops:latest --help

ARG PYTHON_IMAGE=python:3.11-slim

# -- build: a virtual environment with the pinned dependencies and the project ----------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/complaintops
ENV PATH=/opt/complaintops/bin:$PATH

WORKDIR /src
# Dependencies first (their layer is reused until the lock changes), exactly as
# pinned: --no-deps installs nothing the lock does not name, `pip check` proves
# the lock is complete.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock

# The compiled batch kernel (metrics/kernel/_compiled.pyx) needs a C compiler
# to build; only this stage has one. The import proves it was built.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

COPY . .
RUN pip install --no-deps . \
    && pip check \
    && cd / && python -c "import metrics.kernel._compiled, consumers.fetch._records"

# -- runtime: the environment only, run by an unprivileged user -----------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ComplaintOps" \
      org.opencontainers.image.description="Real-time operations for insurance complaint handling"

ENV PATH=/opt/complaintops/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COMPLAINTOPS_DATA_DIR=/var/lib/complaintops

RUN groupadd --system --gid 10001 complaintops \
    && useradd --system --uid 10001 --gid complaintops \
       --home-dir /var/lib/complaintops --shell /usr/sbin/nologin complaintops \
    && mkdir -p /var/lib/complaintops /etc/complaintops/rules \
    && chown complaintops:complaintops /var/lib/complaintops

COPY --from=build /opt/complaintops /opt/complaintops

USER 10001:10001
WORKDIR /var/lib/complaintops

# The dashboard and API (complaintops serve --host 0.0.0.0).
EXPOSE 8050

ENTRYPOINT ["complaintops"]
CMD ["--help"]
