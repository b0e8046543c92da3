#!/bin/sh
# Rotate the app's session secret in .env; the app rereads it on restart.
set -eu
env=/opt/shop/shared/.env
new=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
tmp=$(mktemp "$env.XXXXXX")
grep -v '^SESSION_SECRET=' "$env" > "$tmp" || true
echo "SESSION_SECRET=$new" >> "$tmp"
chmod 0600 "$tmp"
mv "$tmp" "$env"
