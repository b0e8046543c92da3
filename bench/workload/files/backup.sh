#!/bin/sh
# Nightly backup of the app's shared state, keeping a week.
set -eu
dest=/var/backups/shop
mkdir -p "$dest"
tar -czf "$dest/shared-$(date +%F).tar.gz" -C /opt/shop shared
find "$dest" -name 'shared-*.tar.gz' -mtime +7 -delete
