# syntax=docker/dockerfile:1
#
# The credit warehouse's Airflow image: the official Apache Airflow image with this project
# installed from uv.lock, its DAGs, dbt project, expectations and seeds under /opt/credit-dw,
# and dbt's manifest prebuilt so that Cosmos does not have to parse the dbt project at DAG
# parse time. Built and run by docker-compose.yml; tests/test_deployment.py checks that the
# two files agree with each other and with the code.
#
# The Airflow version in this tag must equal the apache-airflow pin in pyproject.toml/uv.lock
# (the test compares it with the installed airflow.__version__; pip below refuses a mismatch).
FROM apache/airflow:3.3.2-python3.11

# uv only turns uv.lock into a requirements file; pinned to the uv that writes this lock format.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv

# Directories owned by the airflow user, group 0 writable (the image runs under any uid in group 0).
USER root
RUN mkdir -p /opt/credit-dw /opt/airflow/credit-dw-home \
 && chown airflow:0 /opt/credit-dw /opt/airflow/credit-dw-home \
 && chmod 2775 /opt/credit-dw /opt/airflow/credit-dw-home
# A CJK font for the quality report's charts: matplotlib measures the Chinese labels with it to lay
# the chart out (the text itself stays SVG text, drawn by the reader's browser).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*
USER airflow

# 1. Third-party dependencies: exactly the versions locked in uv.lock, installed as the airflow
#    user with pip as the image's documentation recommends (apache-airflow pinned to the image's
#    own version so that a lock that disagrees with the base image fails the build).
COPY --chown=airflow:0 pyproject.toml uv.lock /opt/credit-dw/
RUN cd /opt/credit-dw \
 && uv export --frozen --no-dev --no-hashes --no-emit-project > /tmp/requirements.txt \
 && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# 2. The project itself. Installed editable on purpose: credit_dw.config.settings finds dags/,
#    dbt_project/, expectations/ and seeds/ relative to its own source file, so the package must
#    be imported from /opt/credit-dw/include, not from a copy in site-packages.
COPY --chown=airflow:0 include/ /opt/credit-dw/include/
COPY --chown=airflow:0 dags/ /opt/credit-dw/dags/
COPY --chown=airflow:0 dbt_project/ /opt/credit-dw/dbt_project/
COPY --chown=airflow:0 expectations/ /opt/credit-dw/expectations/
COPY --chown=airflow:0 seeds/ /opt/credit-dw/seeds/
RUN pip install --no-cache-dir --no-deps -e /opt/credit-dw

# 3. Prebuild dbt_project/target/manifest.json. `dbt parse` opens no connection, but the profile
#    reads these variables, so dummy values are given for this step only (at run time
#    credit_dw.config.settings.dbt_env derives them from WAREHOUSE_URL).
RUN cd /opt/credit-dw/dbt_project \
 && CREDIT_DW_PGHOST=localhost \
    CREDIT_DW_PGPORT=5432 \
    CREDIT_DW_PGUSER=build \
    CREDIT_DW_PGPASSWORD=build \
    CREDIT_DW_PGDATABASE=credit_warehouse \
    DO_NOT_TRACK=1 \
    dbt parse --profiles-dir . \
 && test -s target/manifest.json \
 && chmod -R g+rwX /opt/credit-dw/dbt_project

# No outbound calls from any process of the image, under docker compose or not (as
# credit_dw.config.airflow_env.defaults): Cosmos's usage metrics, Scarf analytics (DO_NOT_TRACK also
# stops dbt's tracking), Great Expectations' analytics, Airflow's usage data collection.
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/credit-dw/dags \
    CREDIT_DW_HOME=/opt/airflow/credit-dw-home \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DO_NOT_TRACK=1 \
    SCARF_NO_ANALYTICS=true \
    GX_ANALYTICS_ENABLED=False \
    AIRFLOW__USAGE_DATA_COLLECTION__ENABLED=False
