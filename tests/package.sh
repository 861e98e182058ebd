#!/usr/bin/env bash
# The Debian package, end to end: builds it with cargo-deb, installs it, checks what the
# maintainer scripts set up, runs the installed server the way its systemd unit would (the unit's
# user, command line and working directory; on a free port), calls the API with the credentials
# the first start generated, stops it with SIGTERM, then removes and purges the package.
#
#   tests/package.sh                        cargo deb builds the release binary first
#   KLAXON_BIN=target/release/klaxon tests/package.sh
#                                           package that binary as it is (cargo deb --no-build)
#
# Needs root or sudo (dpkg -i), dpkg, systemd-analyze, setpriv, curl; the aws CLI is optional
# (the signed call is skipped without it). Any previous install of klaxon is purged first.
# KLAXON_DEB_DIR: where the .deb goes (default target/debian). KLAXON_PACKAGE_KEEP=1 leaves the
# package installed when a check fails, for a look around.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

passed=0
server_pid=""
server_log=""
work=$(mktemp -d "${TMPDIR:-/tmp}/klaxon-package.XXXXXX")

pass() {
    passed=$((passed + 1))
    echo "ok $passed - $*"
}

fail() {
    echo "FAILED: $*" >&2
    if [ -n "$server_log" ] && [ -s "$server_log" ]; then
        echo "--- the server's output (last 40 lines):" >&2
        tail -n 40 "$server_log" >&2
    fi
    echo "package: $passed passed, 1 failed"
    exit 1
}

if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "FAILED: tests/package.sh installs a package: run it as root or install sudo" >&2
    exit 1
fi
as_root() { "${SUDO[@]}" "$@"; }

package_status() {
    dpkg-query -W -f='${db:Status-Status}' klaxon 2>/dev/null || echo not-installed
}

cleanup() {
    local rc=$?
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        sleep 2
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    if [ "$rc" != 0 ] && [ "${KLAXON_PACKAGE_KEEP:-}" != 1 ] && [ "$(package_status)" != not-installed ]; then
        echo "purging the klaxon package after the failure (KLAXON_PACKAGE_KEEP=1 keeps it)" >&2
        as_root dpkg --purge klaxon >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

for tool in dpkg dpkg-deb setpriv curl; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done
analyze=$(command -v systemd-analyze || echo /usr/bin/systemd-analyze)
[ -x "$analyze" ] || fail "systemd-analyze is not installed (Debian's systemd package)"

# Idempotent: start from a machine without klaxon.
if [ "$(package_status)" != not-installed ]; then
    echo "purging a previous install of klaxon"
    as_root dpkg --purge klaxon >/dev/null
fi
[ "$(package_status)" = not-installed ] || fail "could not purge the previous klaxon package"

# --- the packaged configuration is the example's ---------------------------------------------
packaging/make-config.sh --check >/dev/null \
    || fail "packaging/klaxon.toml differs from config/klaxon.example.toml (run packaging/make-config.sh)"
pass "packaging/klaxon.toml is generated from config/klaxon.example.toml"

# --- build ----------------------------------------------------------------------------------
if ! cargo deb --version >/dev/null 2>&1; then
    cargo install cargo-deb --locked
fi
cargo deb --version

deb_dir=${KLAXON_DEB_DIR:-target/debian}
mkdir -p "$deb_dir"
deb_args=(-p klaxon --output "$deb_dir/")
if [ -n "${KLAXON_BIN:-}" ]; then
    [ -x "$KLAXON_BIN" ] || fail "KLAXON_BIN=$KLAXON_BIN is not an executable"
    # cargo-deb takes the binary from <target dir>/release/klaxon (and may strip it there): give
    # it a private target dir holding a copy, so the binary under test is packaged untouched.
    mkdir -p "$work/target/release"
    cp "$KLAXON_BIN" "$work/target/release/klaxon"
    export CARGO_TARGET_DIR="$work/target"
    deb_args+=(--no-build)
fi
cargo deb "${deb_args[@]}" >"$work/cargo-deb.out" || fail "cargo deb failed"
deb=$(tail -n 1 "$work/cargo-deb.out")
[ -f "$deb" ] || fail "cargo deb did not print the path of a .deb (printed: $(cat "$work/cargo-deb.out"))"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
deb_version=$(dpkg-deb -f "$deb" Version)
deb_arch=$(dpkg-deb -f "$deb" Architecture)
[ "$deb_version" = "$version" ] || [ "$deb_version" = "${version/-/\~}" ] \
    || fail "the package's version is $deb_version, Cargo.toml's is $version"
[ "$(basename "$deb")" = "klaxon_${deb_version}_${deb_arch}.deb" ] \
    || fail "the package is $(basename "$deb"), expected klaxon_${deb_version}_${deb_arch}.deb"
pass "cargo deb built $deb"

dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$work/contents"
for f in /usr/bin/klaxon /etc/klaxon/klaxon.toml /usr/share/doc/klaxon/README.md \
    /usr/share/doc/klaxon/examples/klaxon.example.toml /usr/share/doc/klaxon/examples/klaxon.rules.yml; do
    grep -qx "$f" "$work/contents" || fail "the package has no $f"
done
grep -qE '^(/usr)?/lib/systemd/system/klaxon\.service$' "$work/contents" \
    || fail "the package has no systemd unit klaxon.service"
dpkg-deb -I "$deb" conffiles 2>/dev/null | grep -qx /etc/klaxon/klaxon.toml \
    || fail "/etc/klaxon/klaxon.toml is not a conffile"
dpkg-deb -f "$deb" Depends | grep -qw adduser || fail "the package does not depend on adduser"
for script in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$script" >"$work/$script" 2>/dev/null || fail "the package has no $script"
    if grep -q '#DEBHELPER#' "$work/$script"; then fail "$script still holds the #DEBHELPER# token"; fi
done
grep -q 'deb-systemd-helper' "$work/postinst" || fail "postinst does not enable the unit"
pass "the package holds the binary, conffile, unit, docs and maintainer scripts"

# --- install --------------------------------------------------------------------------------
as_root dpkg -i "$deb" >"$work/dpkg-i.out" 2>&1 || { cat "$work/dpkg-i.out" >&2; fail "dpkg -i failed"; }
[ "$(package_status)" = installed ] || fail "klaxon is $(package_status) after dpkg -i"
pass "dpkg -i installed the package"

IFS=: read -r _ _ uid _ _ home shell < <(getent passwd klaxon) || fail "postinst created no klaxon user"
getent group klaxon >/dev/null || fail "postinst created no klaxon group"
[ "$uid" -lt 1000 ] || fail "the klaxon user (uid $uid) is not a system user"
[ "$home" = /var/lib/klaxon ] || fail "the klaxon user's home is $home"
case "$shell" in */nologin | /bin/false) ;; *) fail "the klaxon user has a login shell ($shell)" ;; esac
pass "postinst created the klaxon system user and group"

[ "$(as_root stat -c '%U:%G %a' /etc/klaxon/klaxon.toml)" = "root:klaxon 640" ] \
    || fail "/etc/klaxon/klaxon.toml is $(as_root stat -c '%U:%G %a' /etc/klaxon/klaxon.toml), expected root:klaxon 640"
as_root cmp -s /etc/klaxon/klaxon.toml packaging/klaxon.toml \
    || fail "/etc/klaxon/klaxon.toml is not packaging/klaxon.toml"
pass "/etc/klaxon/klaxon.toml is root:klaxon 0640 (not world-readable)"

[ "$(as_root stat -c '%U:%G %a' /var/lib/klaxon)" = "klaxon:klaxon 750" ] \
    || fail "/var/lib/klaxon is $(as_root stat -c '%U:%G %a' /var/lib/klaxon), expected klaxon:klaxon 750"
pass "/var/lib/klaxon is klaxon:klaxon 0750 (not world-readable)"

unit=$(dpkg -L klaxon | grep -E '/lib/systemd/system/klaxon\.service$' | head -n 1)
[ -n "$unit" ] && [ -f "$unit" ] || fail "no klaxon.service among the installed files"
# deb-systemd-helper enables the unit even where systemd is not running (it only makes links).
[ -L /etc/systemd/system/multi-user.target.wants/klaxon.service ] \
    || fail "postinst did not enable klaxon.service (no multi-user.target.wants link)"
pass "the unit is installed at $unit and enabled"

# Runs a command as the unit's user, with the environment systemd gives a service.
run_as_service() {
    as_root setpriv --reuid=klaxon --regid=klaxon --init-groups --no-new-privs \
        --inh-caps=-all --bounding-set=-all -- \
        env -i -C /var/lib/klaxon PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 HOME=/var/lib/klaxon USER=klaxon LOGNAME=klaxon SHELL=/usr/sbin/nologin "$@"
}

run_as_service /usr/bin/klaxon check-config --config /etc/klaxon/klaxon.toml >"$work/check-config.out" 2>&1 \
    || { cat "$work/check-config.out" >&2; fail "klaxon check-config --config /etc/klaxon/klaxon.toml failed"; }
pass "klaxon check-config accepts the installed configuration ($(head -n 1 "$work/check-config.out"))"

(cd "$work" && "$analyze" verify "$unit") >"$work/verify.out" 2>&1 \
    || { cat "$work/verify.out" >&2; fail "systemd-analyze verify $unit failed"; }
if grep -q . "$work/verify.out"; then
    cat "$work/verify.out" >&2
    fail "systemd-analyze verify $unit printed warnings"
fi
pass "systemd-analyze verify $unit: no errors, no warnings"

if "$analyze" security --help 2>/dev/null | grep -q -- '--offline'; then
    "$analyze" security --offline=yes --threshold=20 "$unit" >"$work/security.out" 2>&1 \
        || { tail -n 1 "$work/security.out" >&2; fail "systemd-analyze security rates $unit above 2.0"; }
    pass "systemd-analyze security: $(grep -o 'exposure level.*' "$work/security.out" | sed 's/ *$//')"
fi

# --- run it as the unit does ----------------------------------------------------------------
grep -qx 'User=klaxon' "$unit" || fail "the unit does not run as User=klaxon"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || fail "the unit has no ExecStart="
exec_start=${exec_start#[-@+!:]}
read -r -a command <<<"$exec_start"

if command -v python3 >/dev/null 2>&1; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
else
    port=$((20000 + RANDOM % 40000))
fi
base="http://127.0.0.1:$port"
server_log="$work/server.log"
(umask 0077 && exec "${SUDO[@]}" setpriv --reuid=klaxon --regid=klaxon --init-groups --no-new-privs \
    --inh-caps=-all --bounding-set=-all -- \
    env -i -C /var/lib/klaxon PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 HOME=/var/lib/klaxon USER=klaxon LOGNAME=klaxon SHELL=/usr/sbin/nologin \
    KLAXON_LISTEN="127.0.0.1:$port" "${command[@]}") >"$server_log" 2>&1 &
server_pid=$!

healthy=""
for _ in $(seq 1 150); do
    kill -0 "$server_pid" 2>/dev/null || fail "the server ($exec_start) exited during start-up"
    if curl -fsS --max-time 2 "$base/healthz" >"$work/healthz" 2>/dev/null; then
        healthy=1
        break
    fi
    sleep 0.2
done
[ -n "$healthy" ] || fail "no answer from $base/healthz within 30 s"
grep -qx ok "$work/healthz" || fail "$base/healthz answered $(cat "$work/healthz")"
pass "$exec_start (as klaxon, KLAXON_LISTEN=127.0.0.1:$port) answers /healthz"

creds=/var/lib/klaxon/credentials.toml
as_root test -f "$creds" || fail "the first start generated no $creds"
[ "$(as_root stat -c '%U %a' "$creds")" = "klaxon 600" ] \
    || fail "$creds is $(as_root stat -c '%U %a' "$creds"), expected klaxon 600"
[ "$(as_root stat -c '%U' /var/lib/klaxon/klaxon.db)" = klaxon ] \
    || fail "no klaxon.db owned by klaxon in /var/lib/klaxon"
pass "the first start wrote credentials.toml (klaxon, 0600) and klaxon.db to /var/lib/klaxon"

if command -v aws >/dev/null 2>&1; then
    key_id=$(as_root sed -n 's/^access_key_id = "\(.*\)"/\1/p' "$creds")
    secret=$(as_root sed -n 's/^secret_access_key = "\(.*\)"/\1/p' "$creds")
    [ -n "$key_id" ] && [ -n "$secret" ] || fail "$creds has no access_key_id / secret_access_key"
    call_aws() { # secret, then the aws arguments
        local s=$1
        shift
        env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_SECURITY_TOKEN \
            AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$s" AWS_DEFAULT_REGION=us-east-1 \
            AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
            AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" \
            aws "$@" --endpoint-url "$base" --output json
    }
    call_aws "$secret" ssm-contacts list-contacts >"$work/contacts.json" 2>&1 \
        || { cat "$work/contacts.json" >&2; fail "aws ssm-contacts list-contacts with the generated credentials failed"; }
    grep -q '"Contacts"' "$work/contacts.json" || fail "list-contacts answered $(cat "$work/contacts.json")"
    if call_aws "${secret}x" ssm-contacts list-contacts >"$work/refused.out" 2>&1; then
        fail "a request signed with the wrong secret was accepted"
    fi
    pass "aws ssm-contacts list-contacts works with the generated credentials (a wrong secret is refused)"
else
    echo "skip - the aws CLI is not installed: no signed API call"
fi

kill -TERM "$server_pid"
stopped=""
for _ in $(seq 1 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        stopped=1
        break
    fi
    sleep 0.1
done
[ -n "$stopped" ] || fail "the server was still running 30 s (TimeoutStopSec) after SIGTERM"
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[ "$rc" = 0 ] || fail "the server exited with status $rc after SIGTERM"
pass "SIGTERM stops the server with exit status 0"

# --- remove, purge --------------------------------------------------------------------------
as_root dpkg --remove klaxon >"$work/dpkg-r.out" 2>&1 || { cat "$work/dpkg-r.out" >&2; fail "dpkg -r klaxon failed"; }
[ ! -e /usr/bin/klaxon ] || fail "/usr/bin/klaxon is still there after dpkg -r"
[ ! -e "$unit" ] || fail "$unit is still there after dpkg -r"
[ "$(package_status)" = config-files ] || fail "klaxon is $(package_status) after dpkg -r, expected config-files"
as_root test -f /etc/klaxon/klaxon.toml || fail "dpkg -r removed the configuration (a conffile)"
as_root test -d /var/lib/klaxon || fail "dpkg -r removed /var/lib/klaxon (only a purge should)"
getent passwd klaxon >/dev/null || fail "dpkg -r removed the klaxon user (only a purge should)"
pass "dpkg -r removed the binary and unit, kept configuration, data and user"

as_root dpkg --purge klaxon >"$work/dpkg-p.out" 2>&1 || { cat "$work/dpkg-p.out" >&2; fail "dpkg -P klaxon failed"; }
[ "$(package_status)" = not-installed ] || fail "klaxon is $(package_status) after dpkg -P"
[ ! -e /etc/klaxon ] || fail "/etc/klaxon is still there after dpkg -P"
[ ! -e /var/lib/klaxon ] || fail "/var/lib/klaxon is still there after dpkg -P"
if getent passwd klaxon >/dev/null; then fail "the klaxon user is still there after dpkg -P"; fi
if getent group klaxon >/dev/null; then fail "the klaxon group is still there after dpkg -P"; fi
[ ! -e /etc/systemd/system/multi-user.target.wants/klaxon.service ] \
    || fail "the multi-user.target.wants link is still there after dpkg -P"
pass "dpkg -P removed configuration, data, user, group and the unit's enablement"

echo "package: $passed passed, 0 failed"
