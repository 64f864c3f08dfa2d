/* Activation functions: pjreddie's set (gradients from the output y, as Darknet does) plus
 * AlexeyAB's relu6, swish, mish, hard_mish, gelu (gradients from the input x).
 *
 * For ActNN every activation is one of two kinds:
 *  - "masked": the gradient takes only two values g1/g0 depending on a predicate of y, so a
 *    1-bit mask per value restores it exactly (relu, leaky, relie, ramp, relu6, hardtan,
 *    lhtan, plse, stair; linear needs nothing);
 *  - "input": the gradient needs the pre-activation x, which the layer saves (or recomputes
 *    from the batch-norm x-hat) and the backward recomputes y = f(x) from. */
#ifndef DN_ACTIVATIONS_H
#define DN_ACTIVATIONS_H

#include <stddef.h>

#include "backend/activation_kind.h"

void activate_array(float *x, size_t n, activation a);

/* delta[i] *= f'(.) for the activated values y (and pre-activation x where the activation
 * needs it: swish, mish, hard_mish, gelu; x may be NULL for the others). */
void gradient_array(const float *y, const float *x, size_t n, activation a, float *delta);

/* The mask predicate evaluated on the activated output y: 1 when the gradient is g1. */
void activation_mask(const float *y, size_t n, activation a, unsigned char *bits);
/* The gradient for one pre-activation value (used when only x is kept). */
void gradient_from_input(const float *x, size_t n, activation a, float *delta);

#endif
