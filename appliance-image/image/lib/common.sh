# Shared helpers for the appliance image scripts: messages, root check, the content-addressed
# cache. Sourced, not run.

# The calling script's name, for messages.
prog="$(basename "$0")"

log() { echo "$prog: $*" >&2; }
die() { echo "$prog: error: $*" >&2; exit 1; }

need_root() {
  # Unpacking a root file system with its owners, and mmdebstrap's root mode, need uid 0. No
  # loop device, mount or KVM is used anywhere.
  [ "$(id -u)" -eq 0 ] || die "must run as root (to unpack a root file system with its owners and run mmdebstrap); no loop devices or mounts are used"
}

need_tools() {
  local t missing=()
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || [ -x "/sbin/$t" ] || missing+=("$t")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (Debian: apt-get install qemu-utils mmdebstrap mtools syslinux fdisk dosfstools e2fsprogs)"
}

# Where built artefacts are kept, keyed by the hash of everything that went into them.
cache_dir() {
  local d="${KAGAMI_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kagami-image}"
  mkdir -p "$d"
  echo "$d"
}

# sha256 of the given files' contents and of stdin, as one short key.
content_key() {
  { cat "$@"; cat; } | sha256sum | cut -c1-16
}
