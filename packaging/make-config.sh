#!/bin/sh
# Writes packaging/klaxon.toml (installed as /etc/klaxon/klaxon.toml by the Debian package) from
# config/klaxon.example.toml: the same comments, keys and defaults, with data_dir pointing at the
# service's state directory. Run it after every change to the example.
#   packaging/make-config.sh          regenerate packaging/klaxon.toml
#   packaging/make-config.sh --check  exit 1 if the committed file differs from a fresh one
set -eu
cd "$(dirname "$0")/.."

example=config/klaxon.example.toml
target=packaging/klaxon.toml

generate() {
    # The one line that changes must be there exactly once, or the packaged file would silently
    # keep the example's relative data directory.
    n=$(grep -c '^data_dir = "data"$' "$example" || true)
    if [ "$n" != 1 ]; then
        echo "make-config.sh: expected exactly one line 'data_dir = \"data\"' in $example, found $n" >&2
        exit 1
    fi
    printf '%s\n' \
        '# Installed by the klaxon Debian package as /etc/klaxon/klaxon.toml (root:klaxon, mode 0640).' \
        '# Generated from config/klaxon.example.toml by packaging/make-config.sh; the service runs' \
        '# `klaxon serve --config /etc/klaxon/klaxon.toml` as the klaxon user (see klaxon.service).' \
        '#'
    sed 's|^data_dir = "data"$|data_dir = "/var/lib/klaxon"|' "$example"
}

case "${1:-}" in
    "")
        tmp=$(mktemp "$target.XXXXXX")
        trap 'rm -f "$tmp"' EXIT
        generate >"$tmp"
        chmod 644 "$tmp"
        mv "$tmp" "$target"
        trap - EXIT
        echo "wrote $target"
        ;;
    --check)
        tmp=$(mktemp)
        trap 'rm -f "$tmp"' EXIT
        generate >"$tmp"
        if ! cmp -s "$tmp" "$target"; then
            echo "$target is out of date with $example; run packaging/make-config.sh" >&2
            diff -u "$target" "$tmp" >&2 || true
            exit 1
        fi
        if python3 -c 'import tomllib' 2>/dev/null; then
            python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$target" || {
                echo "$target is not valid TOML" >&2
                exit 1
            }
        fi
        echo "$target is up to date"
        ;;
    *)
        echo "usage: $0 [--check]" >&2
        exit 2
        ;;
esac
