/* error.c: a string for every error code. */
#include "actnn.h"

const char *actnn_strerror(int err)
{
    switch (err) {
    case ACTNN_OK: return "ok";
    case ACTNN_E_NULL: return "a required pointer argument is NULL";
    case ACTNN_E_SIZE: return "a size is zero";
    case ACTNN_E_BITS: return "bit width not allowed (1..8, 16 or 32; 1..8 for codes)";
    case ACTNN_E_NOMEM: return "out of memory";
    case ACTNN_E_INDEX: return "sample index out of range";
    case ACTNN_E_GROUP: return "group size must be a multiple of 32 in [32, 65536]";
    case ACTNN_E_NONFINITE: return "data to quantize holds NaN or Inf, or its range overflows";
    case ACTNN_E_PARAM: return "argument out of its domain";
    case ACTNN_E_CODE: return "an integer code does not fit the declared width";
    case ACTNN_E_NOT_SAVED: return "sample was never saved";
    case ACTNN_E_TOO_LARGE: return "sizes too large (D > 2^32-1 or byte count overflow)";
    default: return "unknown actnn error";
    }
}
