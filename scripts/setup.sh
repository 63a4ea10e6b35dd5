#!/usr/bin/env bash
# Installs what Herald needs on a Debian/Ubuntu machine that has Swift:
#   scripts/setup.sh          system libraries to build and run Herald
#   scripts/setup.sh --test   plus the peers and tools the tests use (kcat, moto, boto3, azure-servicebus,
#                             Chromium, chromedriver and Selenium for the console's browser tests,
#                             PostgreSQL: the tests start their own clusters, see docs/testing.md)
# Already-installed packages are skipped, so running it again is quick.
set -euo pipefail

TEST=0
[[ "${1:-}" == "--test" ]] && TEST=1

packages=(pkg-config libcurl4-openssl-dev librdkafka-dev libssl-dev zlib1g-dev libisal-dev libsqlite3-dev libre2-dev curl)
if [[ $TEST == 1 ]]; then
    packages+=(kcat jq openssl util-linux python3-pip)
    # The console's browser tests (Tests/Console): headless Chromium driven by Selenium.
    packages+=(chromium chromium-driver python3-selenium)
    # The server binaries (initdb, pg_ctl, postgres, psql) for the tests' own clusters; not needed when
    # HERALD_PG_BIN points at another installation. The package may start a cluster of its own on port
    # 5432: the tests do not use it.
    [[ -n "${HERALD_PG_BIN:-}" ]] || packages+=(postgresql)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if [[ ${#missing[@]} -gt 0 ]]; then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null; then SUDO="sudo"; else
            echo "setup: please install: ${missing[*]} (apt-get install -y …)" >&2
            exit 1
        fi
    fi
    echo "==> apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ $TEST == 1 ]]; then
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        echo "setup: running as root, the tests run PostgreSQL as the postgres user (initdb refuses root)," >&2
        echo "       which does not exist: useradd --system --home /var/lib/postgresql postgres (see docs/testing.md)." >&2
    fi
    pip=(python3 -m pip install -q --disable-pip-version-check)
    python3 -c "import moto, flask" 2>/dev/null || { echo "==> pip install moto[server]"; "${pip[@]}" 'moto[server]'; }
    python3 -c "import boto3" 2>/dev/null || { echo "==> pip install boto3"; "${pip[@]}" boto3; }
    python3 -c "import azure.servicebus" 2>/dev/null || { echo "==> pip install azure-servicebus"; "${pip[@]}" azure-servicebus; }
    if ! dpkg -s google-cloud-cli-pubsub-emulator >/dev/null 2>&1; then
        echo "setup: the Pub/Sub emulator (Debian package google-cloud-cli-pubsub-emulator) is not installed;" >&2
        echo "       the Pub/Sub sink tests will fail until it is (see docs/sinks/pubsub.md)." >&2
    fi
fi
