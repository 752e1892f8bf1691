/* gan/layout.c: where each parameter tensor of G, Z and D lives inside its network's
 * block. The order of declaration here IS the checkpoint's byte layout
 * (docs/CHECKPOINT.md): change it only together with the format version. */
#include "gan/internal.h"

static size_t take(size_t *used, size_t count)
{
    size_t at = *used;
    *used += count;
    return at;
}

static gan_dense dense(size_t *used, int in, int out, int bias)
{
    gan_dense d = {.in = in, .out = out};
    d.w = take(used, (size_t)in * out);
    d.b = bias ? take(used, (size_t)out) : GAN_NO_BIAS;
    return d;
}

static gan_conv conv(size_t *used, int cin, int cout, int side)
{
    gan_conv c = {.cin = cin, .cout = cout, .side = side};
    c.w = take(used, (size_t)25 * cin * cout);
    c.b = take(used, (size_t)cout); /* bias, or batch norm's beta when one follows */
    return c;
}

void gan_layout_g(gan_g_layout *l, const gan_config *c)
{
    size_t used = 0;
    l->levels = c->levels;
    l->side = gan_config_side(c);
    l->c0 = c->base << (c->levels - 1);
    const int w = c->fc_width;
    l->fc[0] = dense(&used, GAN_Z_DIM, w, 1);
    l->fc[1] = dense(&used, w, w, 1);
    l->fc[2] = dense(&used, w, w, 1);
    l->fc[3] = dense(&used, w, 16 * l->c0, 1);
    l->fc_count = used;
    int cin = l->c0;
    for (int i = 0; i < c->levels; i++) {
        int cout = c->base << (c->levels - 1 - i);
        l->up[i] = conv(&used, cin, cout, 8 << i);
        cin = cout;
    }
    l->out = conv(&used, cin, 3, l->side);
    l->count = used;
}

void gan_layout_z(gan_z_layout *l, const gan_config *c)
{
    size_t used = 0;
    const int features = 16 * (c->base << (c->levels - 1));
    const int w = c->zpred_width;
    l->fc[0] = dense(&used, features, w, 1);
    l->fc[1] = dense(&used, w, w, 1);
    l->fc[2] = dense(&used, w, w, 1);
    l->fc[3] = dense(&used, w, GAN_Z_DIM, 1);
    l->count = used;
}

void gan_layout_d(gan_d_layout *l, const gan_config *c)
{
    size_t used = 0;
    l->levels = c->levels;
    l->side = gan_config_side(c);
    int cin = 3;
    for (int i = 0; i < c->levels; i++) {
        int cout = c->base << i;
        l->conv[i] = conv(&used, cin, cout, l->side >> i);
        cin = cout;
    }
    l->features = 16 * cin;
    l->head[0] = dense(&used, l->features, c->fc_width, 1);
    l->head[1] = dense(&used, c->fc_width, c->fc_width, 1);
    l->mb_kernels = c->mb_kernels;
    l->mb_dims = c->mb_dims;
    l->mb_t = take(&used, (size_t)l->features * c->mb_kernels * c->mb_dims);
    l->mb_bias = take(&used, (size_t)c->mb_kernels);
    l->logit = dense(&used, c->fc_width + c->mb_kernels, 1, 1);
    l->count = used;
}
