#!/usr/bin/env bash
# Installs the system programs the test suite drives for real: Prometheus (with promtool),
# Alertmanager (amtool), Chromium and PostgreSQL's server binaries (initdb, pg_ctl, postgres under /usr/lib/postgresql/*/bin;
# the tests start their own throw-away clusters, never the system cluster the package may start on
# 5432). As root on Debian/Ubuntu it uses apt-get; anywhere else it names what to install.
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages for the tests: $packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
else
  echo "The tests need these programs on PATH: $packages" >&2
  echo "  Debian/Ubuntu: sudo apt-get install -y $packages" >&2
  echo "  elsewhere: Prometheus 2.x (prometheus and promtool), Alertmanager (amtool), Chromium at /usr/bin/chromium, and the" >&2
  echo "  PostgreSQL 15+ server binaries (initdb, pg_ctl, postgres) under /usr/lib/postgresql/<major>/bin" >&2
  exit 1
fi
