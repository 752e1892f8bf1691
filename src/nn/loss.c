/* nn/loss: sigmoid cross-entropy on logits and mean squared error.
 *
 * The cross-entropy uses the stable form max(l, 0) - l*y + log(1 + exp(-|l|)), finite
 * for any finite logit, and its gradient a sigmoid that never overflows either. Means
 * are accumulated in double. Backward functions write (never accumulate) dlogits/dpred. */
#include <math.h>

#include "illgan/nn.h"

static double sigmoid(double l)
{
    if (l >= 0.0)
        return 1.0 / (1.0 + exp(-l));
    double e = exp(l);
    return e / (1.0 + e);
}

float nn_bce_logits_forward(const float *logits, float target, int n)
{
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double l = logits[i];
        s += (l > 0.0 ? l : 0.0) - l * target + log1p(exp(-fabs(l)));
    }
    return (float)(s / n);
}

void nn_bce_logits_backward(float *dlogits, const float *logits, float target, int n,
                            float scale)
{
    for (int i = 0; i < n; i++)
        dlogits[i] = (float)((double)scale * (sigmoid(logits[i]) - target) / n);
}

float nn_mse_forward(const float *pred, const float *target, size_t count)
{
    double s = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return (float)(s / (double)count);
}

void nn_mse_backward(float *dpred, const float *pred, const float *target, size_t count)
{
    float k = (float)(2.0 / (double)count);
    for (size_t i = 0; i < count; i++)
        dpred[i] = k * (pred[i] - target[i]);
}
