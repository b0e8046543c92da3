"""Account lookups in shell builtins (user, group modules).

`getent` is a process start per lookup; a no-op user task made five of them. These helpers read
/etc/passwd, /etc/group, /etc/shadow with the shell's own `read` and fall back to `getent` only
when the entry is not in the local file, so entries from other NSS sources (LDAP, systemd's
synthesized users) are still found, and a local entry reads exactly as `getent` prints it (the
nsswitch default puts `files` first).
"""

from __future__ import annotations

NSS_SH = r"""
# orch_ent DB KEY: sets __ent to the DB entry for KEY as `getent DB KEY` prints it (without the
# newline); status 2 and __ent empty when there is none. A numeric KEY is a uid/gid, as for getent.
orch_ent() {
  __ent=
  if [ -r "/etc/$1" ]; then
    case "$2" in
      ''|*[!0-9]*)
        while IFS= read -r __l || [ -n "$__l" ]; do
          case "$__l" in "$2":*) __ent=$__l; return 0 ;; esac
        done < "/etc/$1" ;;
      *)
        while IFS= read -r __l || [ -n "$__l" ]; do
          __r=${__l#*:}; __r=${__r#*:}
          [ "${__r%%:*}" = "$2" ] && case "$__l" in *:*:*:*) __ent=$__l; return 0 ;; esac
        done < "/etc/$1" ;;
    esac
  fi
  __ent=$(getent "$1" "$2") && [ -n "$__ent" ] && return 0
  __ent=; return 2
}
# orch_getent DB KEY: prints what orch_ent finds, like `getent DB KEY`.
orch_getent() { orch_ent "$1" "$2" && printf '%s\n' "$__ent"; }
# orch_groups_of USER: the groups whose member list names USER, like
# `getent group | awk -F: '... split($4, m, ",") ...'` over the local file. Other NSS group
# sources cannot be enumerated from a file: then getent is used.
orch_groups_of() {
  __srcs=
  if [ -r /etc/nsswitch.conf ]; then
    while IFS= read -r __l || [ -n "$__l" ]; do
      case "$__l" in group:*) __srcs=${__l#group:} ;; esac
    done < /etc/nsswitch.conf
  fi
  case $- in *f*) __nf=1 ;; *) __nf=; set -f ;; esac  # split into words, never glob "[...]"
  for __s in $__srcs; do
    case "$__s" in files|systemd|\[*) ;; *) __srcs=other ;; esac
  done
  [ -n "$__nf" ] || set +f
  if [ "$__srcs" = other ] || [ ! -r /etc/group ]; then
    getent group | awk -F: -v u="$1" '{k=split($4,m,","); for (i=1;i<=k;i++) if (m[i]==u) print $1}'
    return
  fi
  while IFS= read -r __l || [ -n "$__l" ]; do
    case "$__l" in *:*:*:*) ;; *) continue ;; esac
    __m=${__l#*:*:*:}; __m=${__m%%:*}
    case ",$__m," in *,"$1",*) printf '%s\n' "${__l%%:*}" ;; esac
  done < /etc/group
}
"""
