# The two commands: `make run` sets everything up and starts the console; `make test`
# runs the whole test suite (exactly what .ci/run calls). Both are safe to run again:
# every install step is skipped when its inputs have not changed.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
MANAGE := $(BIN)/python manage.py
STEP := scripts/step
export PATH := $(BIN):$(PATH)
export PYTHON

HOST ?= 127.0.0.1
PORT ?= 8000
# The web process binds here (honcho sets PORT per process itself, so the Procfile reads this).
export OPSCONSOLE_BIND := $(HOST):$(PORT)

# Debian packages, as PROBE=PACKAGE[,PACKAGE...]: installed only when the probe fails.
# A probe is a command on PATH, py:MODULE (importable by $(PYTHON)) or dpkg:PACKAGE.
# BUILD_APT: what pip needs to build libvirt-python (no wheel on PyPI).
# LAB_APT: real libvirtd + QEMU hypervisors on this machine (the hypervisor tests' lab).
BUILD_APT := gcc=gcc py-headers=python3-dev pkg-config=pkg-config dpkg:libvirt-dev=libvirt-dev
LAB_APT := libvirtd=libvirt-daemon,libvirt-clients dpkg:libvirt-daemon-driver-qemu=libvirt-daemon-driver-qemu \
	qemu-system-x86_64=qemu-system-x86 qemu-img=qemu-utils unshare=util-linux ip=iproute2 tc=iproute2 \
	dpkg:openssh-server=openssh-server ssh-keygen=openssh-client
# Disk sources: libnbd's Python binding reads NBD exports (libvirt backups, qemu-nbd) with block
# status and dirty bitmaps. It is not on PyPI: Debian's module is linked into the venv (NBD_LINK).
DISK_APT := dpkg:python3-libnbd=python3-libnbd qemu-nbd=qemu-utils
# pg_dump/pg_restore: the RDS replatform moves databases with them (cloud.services.rds_replatform).
RUN_APT := py:ensurepip=python3-venv npm=nodejs,npm pg_dump=postgresql-client pg_restore=postgresql-client \
	dpkg:postgresql=postgresql $(BUILD_APT) $(LAB_APT) $(DISK_APT)
# postgresql: the server programs, for a private wal_level=logical source in the logical-replication tests.
TEST_APT := chromium=chromium dpkg:postgresql=postgresql $(LAB_APT)

# make test: PostgreSQL + Redis in the first pass, SQLite + RabbitMQ in the second.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/opsconsole
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672//
TEST_VAR_DIR ?= $(CURDIR)/var/test
# The SQLite pass leaves out the browser tests; the API fuzz and the worker tests run in both
# (the fuzz takes about 1 min per pass, measured on 2 loaded cores).
SQLITE_MARKERS ?= not browser
# Two xdist workers, whole files per worker (so fewer workers start a libvirt lab): measured
# 7.5 min for the PostgreSQL pass against 10 min without xdist.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadfile
PYTEST_ARGS ?=
PYTEST_TIMEOUT ?= 1200
# Tests get their own var/ and never see a production switch or a developer's queue.
# moto answers DescribeInstanceTypes (1,395 types) slowly on a loaded 2-core machine: give reads room.
TEST_ENV := env -u OPSCONSOLE_ENV -u CELERY_QUEUE -u DJANGO_DEBUG OPSCONSOLE_VAR_DIR=$(TEST_VAR_DIR) OPSCONSOLE_CLOUD_READ_TIMEOUT=300

PIP_STAMP := $(VENV)/.requirements.stamp
PIP_TEST_STAMP := $(VENV)/.requirements-test.stamp
NPM_STAMP := node_modules/.install.stamp
NBD_LINK := $(VENV)/.libnbd.stamp
DIST_PACKAGES := /usr/lib/python3/dist-packages

.PHONY: help run install install-test apt-run apt-test static migrate demo admin lab lab-down lab-demo lint test bench clean

help:
	@echo "make run      set up (packages, venv, assets, database, demo data, admin) and start web + worker + beat"
	@echo "make test     the whole test suite on PostgreSQL+Redis and SQLite+RabbitMQ (what CI runs)"
	@echo "make lint     ruff over the code (ruff.toml); CI runs it before the tests"
	@echo "make migrate  apply database migrations"
	@echo "make demo     load the demo estate (idempotent)"
	@echo "make bench    time the host list API and console page on 10,000 hosts (SQLite and PostgreSQL)"
	@echo "make lab      start the lab: real libvirtd + QEMU hypervisors hv1-hv4 in namespaces (root)"
	@echo "make lab-down stop exactly what the lab started"
	@echo "make clean    delete var/ (database, broker, keys, collected static files) without asking"

# --- Installing --------------------------------------------------------------

apt-run:
	@$(STEP) "Checking Debian packages" scripts/apt-ensure $(RUN_APT)

apt-test:
	@$(STEP) "Checking Debian packages for the tests (chromium, libvirt, QEMU)" scripts/apt-ensure $(TEST_APT)

$(BIN)/python: | apt-run
	@$(STEP) "Creating the virtualenv $(VENV) with $(PYTHON)" $(PYTHON) -m venv $(VENV)

$(PIP_STAMP): requirements.txt | $(BIN)/python
	@$(STEP) "Installing Python packages (requirements.txt)" \
		$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	@touch $@

$(PIP_TEST_STAMP): requirements-test.txt $(PIP_STAMP)
	@$(STEP) "Installing test packages (requirements-test.txt)" \
		$(BIN)/pip install --disable-pip-version-check -q -r requirements-test.txt
	@touch $@

$(NPM_STAMP): package.json package-lock.json | apt-run
	@$(STEP) "Installing front-end assets (npm ci)" npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian builds python3-libnbd for its Python 3.11, the ABI of the venv's: link the module in.
$(NBD_LINK): | $(BIN)/python apt-run
	@$(STEP) "Linking Debian's libnbd binding into the venv" bash -c \
		'site=$$($(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()[\"purelib\"])") && \
		ln -sf $(DIST_PACKAGES)/nbd.py $(DIST_PACKAGES)/libnbdmod.cpython-311-*.so "$$site"/ && \
		$(BIN)/python -c "import nbd"'
	@touch $@

install: apt-run $(PIP_STAMP) $(NPM_STAMP) $(NBD_LINK)

install-test: install apt-test $(PIP_TEST_STAMP)

# --- The product -------------------------------------------------------------

# --clear: var/static is a fresh copy each time, whatever the files' timestamps say (2 s).
static: install
	@$(STEP) "Collecting static files" $(MANAGE) collectstatic --noinput --clear -v0

migrate: install
	@$(STEP) "Migrating the database" $(MANAGE) migrate --noinput -v0

demo: migrate
	@$(STEP) "Loading the demo estate" $(MANAGE) load_demo
	@$(STEP) "Loading the embedded cloud account and demo costs" $(MANAGE) load_cloud_demo

admin: migrate
	@$(STEP) "Making sure the admin login exists" $(MANAGE) ensure_admin --quiet

lab: install
	@$(STEP) "Starting the lab (libvirtd + QEMU hypervisors in namespaces)" $(MANAGE) lab up

lab-down:
	@$(MANAGE) lab down

lab-demo: lab migrate demo
	@$(STEP) "Registering the lab hypervisors and booting the demo guests" $(MANAGE) load_lab_demo
	@$(STEP) "Health checks of the lab hosts (SSH credential, trusted host keys)" $(MANAGE) health_lab_setup

run: static demo admin lab-demo
	@echo
	@echo "================================================================"
	@echo "  Ops console:  http://$(OPSCONSOLE_BIND)/"
	@$(MANAGE) ensure_admin | sed 's/^/  /'
	@echo "  API docs:     http://$(OPSCONSOLE_BIND)/api/docs/"
	@echo "  More users:   add them at /admin/ and put each in the viewer, operator or admin group"
	@echo "  Starting web, worker, beat, lab, embedded cloud, events (Procfile). Ctrl-C stops them all."
	@echo "================================================================"
	@echo
	@exec honcho start -f Procfile

# --- Tests -------------------------------------------------------------------

lint: install-test
	@$(STEP) "Lint (ruff)" $(BIN)/ruff check .

test: install-test
	@$(STEP) "Checking PostgreSQL, Redis and RabbitMQ" \
		$(BIN)/python scripts/check_services.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)" "$(TEST_AMQP_URL)"
	@$(STEP) "Collecting static files for the tests" \
		$(TEST_ENV) DATABASE_URL= $(MANAGE) collectstatic --noinput --clear -v0
	@$(STEP) "Tests, pass 1 of 2: PostgreSQL + Redis" scripts/timed \
		$(TEST_ENV) DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
		timeout $(PYTEST_TIMEOUT) $(BIN)/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)
	@$(STEP) "Tests, pass 2 of 2: SQLite + RabbitMQ ($(SQLITE_MARKERS))" scripts/timed \
		$(TEST_ENV) DATABASE_URL= CELERY_BROKER_URL=$(TEST_AMQP_URL) \
		timeout $(PYTEST_TIMEOUT) $(BIN)/pytest $(PYTEST_XDIST) -m "$(SQLITE_MARKERS)" $(PYTEST_ARGS)

# --- Benchmarks ----------------------------------------------------------------

BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/opsconsole_bench

bench: install
	@$(STEP) "Benchmark on SQLite (var/bench.sqlite3)" env -u DATABASE_URL $(BIN)/python bench/api_list.py
	@$(STEP) "Benchmark on PostgreSQL" env DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/api_list.py

# --- Housekeeping --------------------------------------------------------------

clean:
	rm -rf var
