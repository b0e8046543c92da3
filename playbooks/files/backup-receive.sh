#!/bin/sh
# The backup store's end of a host's copy (backup.sh, nightly by cron and in backup.yml):
#   backup-receive.sh DIR APP KEEP MAX_AGE_DAYS
# sshd runs it as the forced command of that host's key (authorized_keys: restrict,command=...),
# so the key can do nothing else: no shell, no forwarding, no other directory than DIR (the host's
# own, fixed in authorized_keys). The client's command must be "receive <set id>"; the set comes
# as a tar stream of plain files on stdin. It is checked (names, file types, SHA256SUMS, VERIFIED)
# under a .partial- name before it becomes DIR/<set id>; then retention (backup-prune.sh beside
# this script). Prints "stored <set id>".
set -euf
umask 077
dir=$1 app=$2 keep=$3 max_age_days=$4
fail() { echo "backup store: $*" >&2; exit 1; }
# (set -f: the client's words are not globbed)
# shellcheck disable=SC2086
set -- ${SSH_ORIGINAL_COMMAND:-}
[ "$#" -eq 2 ] && [ "$1" = receive ] || fail "expected 'receive <set id>'"
id=$2 rest=${2#"$app"-}
[ "$rest" != "$id" ] || fail "not a set of $app: $id"
case "${rest%%-*}" in
[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z) ;;
*) fail "not a set id: $id" ;;
esac
case "${rest#*-}" in full | db | safety) ;; *) fail "not a set id: $id" ;; esac
mkdir -p -- "$dir"
chmod 0700 -- "$dir"
cd -- "$dir"
if [ -f "$id/VERIFIED" ]; then
  cat > /dev/null
  echo "stored $id (there already)"
  exit 0
fi
work=".partial-$id"
rm -rf -- "$work" "$work.tar"
trap 'rm -rf -- "$work" "$work.tar"' EXIT
cat > "$work.tar"
# Only plain files at the top of the set: no links, devices, directories or paths out of it.
tar -tvf "$work.tar" | awk '$1 !~ /^-/ && $NF != "./" { bad = 1 } END { exit bad }' || fail "$id: the stream holds more than plain files"
tar -tf "$work.tar" | grep -v -x -e './' -e '\./[^/]*' > /dev/null && fail "$id: the stream names files outside the set"
mkdir -- "$work"
tar -C "$work" -xf "$work.tar" --no-same-owner --no-same-permissions
( cd "$work" && sha256sum --check --quiet SHA256SUMS && [ -f VERIFIED ] ) || fail "$id does not match its SHA256SUMS: not kept"
chmod 0700 "$work"
find "$work" -type f -exec chmod 0600 {} +
mv -- "$work" "$id"
rm -f -- "$work.tar"
trap - EXIT
echo "stored $id"
sh "$(dirname -- "$0")/backup-prune.sh" "$dir" "$app" "$keep" "$max_age_days"
