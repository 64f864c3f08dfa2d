/* Activation kinds: the enum, cfg names and the classification ActNN needs (which
 * activations have a two-valued gradient). Metadata only, no kernels: layers and the cfg
 * parser include this; the kernels are the backends' (backend.h activate/gradient/mask).
 * May not include any backend implementation header. */
#ifndef DN_ACTIVATION_KIND_H
#define DN_ACTIVATION_KIND_H

typedef enum {
    ACT_LOGISTIC, ACT_RELU, ACT_RELIE, ACT_LINEAR, ACT_RAMP, ACT_TANH, ACT_PLSE, ACT_LEAKY,
    ACT_ELU, ACT_LOGGY, ACT_STAIR, ACT_HARDTAN, ACT_LHTAN, ACT_SELU,
    ACT_RELU6, ACT_SWISH, ACT_MISH, ACT_HARD_MISH, ACT_GELU,
    ACT_COUNT
} activation;

extern const char *const activation_names[ACT_COUNT];

/* Index of `name`, or -1. */
int activation_from_name(const char *name);
/* True when the gradient is two-valued: *g1 where the predicate holds, *g0 elsewhere. */
int activation_is_masked(activation a, float *g1, float *g0);
/* True when backward needs nothing at all (linear). */
int activation_is_identity(activation a);

#endif
