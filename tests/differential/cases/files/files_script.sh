#!/bin/sh
# prints its arguments and leaves a marker
echo "args: $*"
mkdir -p /srv/script
echo "$1" > /srv/script/marker
