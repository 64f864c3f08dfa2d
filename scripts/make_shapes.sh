#!/bin/sh
# Makes the seeded synthetic shapes detection set and its .data file.
#   scripts/make_shapes.sh [n_train=200] [n_valid=50] [width=416] [height=416] [seed=1]
# Output: $SHAPES_DIR (default data/shapes)/img_*.png + .txt labels, train.txt, valid.txt;
#         $SHAPES_DATA (default data/shapes.data: classes=3, backup=backup/) and
#         data/shapes.names (rectangle, ellipse, triangle).
set -e
cd "$(dirname "$0")/.."
NT=${1:-200}; NV=${2:-50}; W=${3:-416}; H=${4:-416}; SEED=${5:-1}
DIR=${SHAPES_DIR:-data/shapes}
DATA=${SHAPES_DATA:-data/shapes.data}
TOOL=${DN_TOOLS:-build/bin}/make_shapes
[ -x "$TOOL" ] || make -s tools >/dev/null
mkdir -p "$DIR" backup
rm -f "$DIR"/img_*.png "$DIR"/img_*.txt
"$TOOL" "$DIR" "$NT" "$NV" "$W" "$H" "$SEED"
printf 'rectangle\nellipse\ntriangle\n' > data/shapes.names
cat > "$DATA" <<EOT
classes = 3
train = $DIR/train.txt
valid = $DIR/valid.txt
names = data/shapes.names
backup = backup/
EOT
echo "wrote $DATA"
