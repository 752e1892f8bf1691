/* nn/activation: element-wise ReLU, leaky ReLU, tanh and inverted dropout.
 *
 * Every function may run in place (y == x, dx == dy): each block of NN_VB elements is
 * computed into a local array before it is stored, which keeps in-place calls well
 * defined and lets gcc -O2 vectorise the block. Backward functions read the forward
 * OUTPUT y (for ReLU and leaky ReLU with a positive slope, y > 0 exactly where x > 0).
 * Dropout draws one nn_rng_uniform per element in index order, so a mask is a pure
 * function of the generator's state; keep >= 1 draws nothing. */
#include <math.h>
#include <string.h>

#include "illgan/nn.h"
#include "nn/kernels.h"

static inline float relu(float v)
{
    return v > 0.0f ? v : 0.0f;
}

/* Written as two selects and a product so that gcc if-converts it; v * (v > 0 ? 1 :
 * slope) keeps a branch. */
static inline float leaky(float v, float slope)
{
    float pos = v > 0.0f ? v : 0.0f;
    float neg = v > 0.0f ? 0.0f : v;
    return pos + slope * neg;
}

void nn_relu_forward(float *y, const float *x, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++)
            t[u] = relu(x[i + u]);
        memcpy(y + i, t, sizeof t);
    }
    for (; i < count; i++)
        y[i] = relu(x[i]);
}

void nn_relu_backward(float *dx, const float *dy, const float *y, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++) {
            float g = dy[i + u]; /* loaded unconditionally, so the select if-converts */
            t[u] = y[i + u] > 0.0f ? g : 0.0f;
        }
        memcpy(dx + i, t, sizeof t);
    }
    for (; i < count; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void nn_leaky_relu_forward(float *y, const float *x, float slope, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++)
            t[u] = leaky(x[i + u], slope);
        memcpy(y + i, t, sizeof t);
    }
    for (; i < count; i++)
        y[i] = leaky(x[i], slope);
}

static inline float leaky_grad(float g, float out, float slope)
{
    float pos = out > 0.0f ? g : 0.0f;
    float neg = out > 0.0f ? 0.0f : g;
    return pos + slope * neg;
}

void nn_leaky_relu_backward(float *dx, const float *dy, const float *y, float slope,
                            size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++)
            t[u] = leaky_grad(dy[i + u], y[i + u], slope);
        memcpy(dx + i, t, sizeof t);
    }
    for (; i < count; i++)
        dx[i] = leaky_grad(dy[i], y[i], slope);
}

void nn_tanh_forward(float *y, const float *x, size_t count)
{
    for (size_t i = 0; i < count; i++)
        y[i] = tanhf(x[i]);
}

void nn_tanh_backward(float *dx, const float *dy, const float *y, size_t count)
{
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++)
            t[u] = dy[i + u] * (1.0f - y[i + u] * y[i + u]);
        memcpy(dx + i, t, sizeof t);
    }
    for (; i < count; i++)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void nn_dropout_forward(float *y, uint8_t *mask, const float *x, float keep, size_t count,
                        nn_rng *r)
{
    if (keep >= 1.0f) {
        if (y != x)
            memmove(y, x, count * sizeof *y);
        memset(mask, 1, count);
        return;
    }
    float scale = 1.0f / keep;
    /* Branch-free: the kept/dropped pattern is random, so a branch would mispredict
     * half the time. */
    for (size_t i = 0; i < count; i++) {
        uint8_t kept = nn_rng_uniform(r) < keep;
        mask[i] = kept;
        y[i] = x[i] * (scale * (float)kept);
    }
}

void nn_dropout_backward(float *dx, const float *dy, const uint8_t *mask, float keep,
                         size_t count)
{
    if (keep >= 1.0f) {
        if (dx != dy)
            memmove(dx, dy, count * sizeof *dx);
        return;
    }
    float scale = 1.0f / keep;
    size_t i = 0;
    for (; i + NN_VB <= count; i += NN_VB) {
        float t[NN_VB];
        for (int u = 0; u < NN_VB; u++)
            t[u] = dy[i + u] * (scale * (float)mask[i + u]); /* mask is 0 or 1 */
        memcpy(dx + i, t, sizeof t);
    }
    for (; i < count; i++)
        dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}
