/* nn/adam: the Adam update in the bias-corrected step-size form of docs/MODEL.md:
 *   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
 *   w -= lr_t m / (sqrt(v) + eps),  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t),
 * t being the step count after this update. lr_t is computed once per call in double. */
#include <math.h>

#include "illgan/nn.h"

void nn_adam_update(float *w, const float *g, float *m, float *v, size_t count,
                    const nn_adam_config *cfg, long t)
{
    double tt = (double)t;
    float lr_t = (float)(cfg->lr * sqrt(1.0 - pow(cfg->beta2, tt)) /
                         (1.0 - pow(cfg->beta1, tt)));
    float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < count; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + c1 * gi;
        float vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr_t * mi / (sqrtf(vi) + eps);
    }
}
