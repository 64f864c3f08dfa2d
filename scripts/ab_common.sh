# Sourced by the A/B scripts (ab_speed.sh, ab_layers.sh): their arguments
# (DARKNET_A DARKNET_B DATA CFG [ROUNDS=5]; fewer prints the caller's usage, lines 2-9 of
# it) into A, B, CFG and ROUNDS, and a temporary folder T, removed at exit, with a copy of
# DATA whose backup folder is inside it (T/ab.data), so no run writes weights elsewhere.
set -u
[ $# -ge 4 ] || { sed -n 2,9p "$0"; exit 2; }
A=$(realpath "$1") B=$(realpath "$2") CFG=$4 ROUNDS=${5:-5}
T=$(mktemp -d -p "${TMPDIR:-/tmp}")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/backup"
sed "s|^backup.*|backup = $T/backup/|" "$3" > "$T/ab.data"
