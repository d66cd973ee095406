# Shared by the deploy scripts: `run` executes an aws command, or with DRY_RUN=1 prints it instead.
# Sourced, not run.

# Prints a command as a shell would read it back (arguments with spaces or quotes single-quoted).
show() {
  out='+'
  for arg in "$@"; do
    case "$arg" in
      *[!A-Za-z0-9_./:=,@%+-]*|'') out="$out '$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'" ;;
      *) out="$out $arg" ;;
    esac
  done
  printf '%s\n' "$out"
}

run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then show "$@"; else "$@"; fi
}

die() {
  printf '%s\n' "$*" >&2
  exit 2
}
