#!/bin/sh
# Retention of backup sets:  backup-prune.sh DIR APP KEEP MAX_AGE_DAYS [NOW_EPOCH]
# Sets are directories DIR/APP-<YYYYmmddTHHMMSSZ>-<kind> (backup.sh). Per kind (full, db,
# safety), the newest KEEP stay; a set older than MAX_AGE_DAYS goes even when it is among them
# (0: no age limit). The newest verified full set always stays, whatever its age: retention never
# leaves an app without a backup. The time is the set's own stamp (not the file's mtime, which a
# copy may change). Prints "removed <id>" per set removed. The same script prunes the host, the
# controller's copies and the backup store. NOW_EPOCH: another "now" (tests).
set -eu
dir=$1 app=$2 keep=$3 max_age_days=$4
now=${5:-$(date -u +%s)}
cd "$dir" 2>/dev/null || exit 0
sets() { ls -1d -- "$app"-[0-9]*T[0-9]*Z-* 2>/dev/null | sort -r; }
newest_full=$(for s in $(sets); do case "$s" in *-full) [ -f "$s/VERIFIED" ] && { echo "$s"; break; } ;; esac; done)
for kind in $(sets | sed 's/.*-//' | sort -u); do
  i=0
  for s in $(sets | grep -- "-$kind\$"); do
    i=$((i + 1))
    stamp=${s#"$app"-}; stamp=${stamp%%-*}
    when=$(date -u -d "$(echo "$stamp" | sed -E 's/^(....)(..)(..)T(..)(..)(..)Z$/\1-\2-\3 \4:\5:\6/')" +%s)
    if [ "$i" -gt "$keep" ] || { [ "$max_age_days" -gt 0 ] && [ $((now - when)) -gt $((max_age_days * 86400)) ]; }; then
      [ "$s" = "$newest_full" ] && continue
      rm -rf -- "$s"
      echo "removed $s"
    fi
  done
done
