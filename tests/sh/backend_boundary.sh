#!/usr/bin/env bash
# The backend boundary (src/backend/backend.h, DESIGN.md "Backends"): outside src/backend/
# no source includes a backend implementation header (backend/cpu/*, backend/cuda/*) or
# calls a kernel by name (CPU kernels, cuBLAS/cuDNN/CUDA, dn_gpu_*), and the layers that run
# on the backend move buffers only through its ops (no memcpy/memset on x->... buffers).
# Host layers (loss layers: cost, softmax, yolo, region) compute on host copies and may
# loop over their buffers; they still call kernels only through a backend.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
SRC=${DN_SRC:-$root/src}
. "$root/tests/common/checks.sh"

mapfile -t files < <(find "$SRC" -name '*.[ch]' -not -path "$SRC/backend/*" | sort)
check "found the sources outside src/backend" [ "${#files[@]}" -gt 20 ]

incl=$(grep -nE '#include +"backend/(cpu|cuda)/' "${files[@]}")
check "no backend implementation header included outside src/backend" [ -z "$incl" ]
[ -n "$incl" ] && echo "$incl"

# A kernel name called as a function: not preceded by an identifier character, '.' or '>'
# (x->be->gemm( and dn_backend_cpu()->activate( are calls through the table).
k='dn_gemm|im2col|col2im_add|fill_f|axpy_f|scal_f|copy_f|add_bias|backward_bias'
k="$k|bn_(forward_train|forward_infer|stats_begin|stats_add|stats_end|normalize|scale_shift)"
k="$k|bn_(backward_reset|backward_sums|backward_params|backward_delta|preact)"
k="$k|activate_array|gradient_array|gradient_from_input|activation_mask"
k="$k|cpu_[a-z_]+|dn_gpu_[a-z_]+|dn_cuda_[a-z_]+|cblas_[a-z_]+|cublas[A-Za-z_]+|cudnn[A-Za-z_]+|cuda[A-Z][A-Za-z]+"
calls=$(grep -nE "(^|[^A-Za-z0-9_.>])($k)[[:space:]]*\(" "${files[@]}" | grep -vE '^[^:]+:[0-9]+:\s*(/?\*|//)')
check "no kernel called directly outside src/backend" [ -z "$calls" ]
[ -n "$calls" ] && echo "$calls"

host='/(cost|softmax|yolo|yolo_loss|region|region_loss)\.c$'
moves=""
for f in "$SRC"/layers/*.c; do
    [[ $f =~ $host ]] && continue
    m=$(grep -nE '(memcpy|memset|memmove)\(x->' "$f") && moves="$moves$f: $m"$'\n'
done
check "device layers move buffers only through the backend" [ -z "$moves" ]
[ -n "$moves" ] && echo "$moves"

tbl=$(grep -cE '^\s+\.[a-z_0-9]+ = ' "$root/src/backend/cpu/backend_cpu.c")
ops=$(grep -cE '^\s+([a-z].*\(\*[a-z_0-9]+\)\(|dn_[a-z0-9_]+_fn \*[a-z_0-9]+;)' "$root/src/backend/backend.h")
check "the CPU backend fills every op of backend.h ($tbl entries, $ops ops)" [ "$tbl" -ge "$((ops + 2))" ]
[ "$fails" -eq 0 ]
