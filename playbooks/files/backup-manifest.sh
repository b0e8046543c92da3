# Reading a backup set's MANIFEST (written by templates/backup.sh.j2), for restore_set.yml (which
# inlines this file) and its unit test. A part's line is
#   part NAME SIZE SHA256 WHAT...
# with WHAT the rest of the line, verbatim: "files PATH", "redis SERVICE PATH", "postgres ...".
# PATH may hold any character but a newline (spaces, quotes, unicode), so it is never split.

# manifest_what MANIFEST NAME: WHAT of part NAME ("" when the set has no such part)
manifest_what() {
  awk -v name="$2" '$1 == "part" && $2 == name { sub(/^part +[^ ]+ +[0-9]+ +[0-9a-f]+ /, ""); print; exit }' "$1"
}

# manifest_files_path MANIFEST NAME: the directory a files-*.tar.gz part was taken from
manifest_files_path() {
  set -- "$(manifest_what "$1" "$2")"
  printf '%s\n' "${1#files }"
}

# manifest_redis_service MANIFEST NAME, manifest_redis_path MANIFEST NAME: a redis-*.rdb part's
# Compose service and the RDB's path in its container
manifest_redis_service() {
  set -- "$(manifest_what "$1" "$2")"
  set -- "${1#redis }"
  printf '%s\n' "${1%% *}"
}
manifest_redis_path() {
  set -- "$(manifest_what "$1" "$2")"
  set -- "${1#redis }"
  printf '%s\n' "${1#* }"
}
