/* server/prom: GET /metrics in the Prometheus text exposition format 0.0.4.
 *
 * Every family has HELP and TYPE lines; counters end in _total; times are seconds and
 * timestamps Unix seconds; values unknown yet (losses before the first iteration) are left
 * out rather than exported as NaN, so rate() and alerts never see a fake number. The output
 * passes `promtool check metrics` (tested). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(FILE *f, const char *name, const char *labels, double v)
{
    if (!isfinite(v))
        return;
    fprintf(f, "%s%s %.17g\n", name, labels ? labels : "", v);
}

int prom_metrics(server *s, const http_request *q, http_reply *r)
{
    static const char *const none[] = {NULL};
    if (param_check(q, none, r))
        return -1;
    trainer_status st;
    trainer_get_status(s->o.tr, &st);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return reply_error(r, 500, "internal", NULL, "out of memory");

    family(f, "illgan_build_info", "gauge", "Build information; always 1.");
    fprintf(f, "illgan_build_info{version=\"%s\"} 1\n", ILLGAN_VERSION);
    family(f, "illgan_start_time_seconds", "gauge", "Start time of the daemon, Unix seconds.");
    sample(f, "illgan_start_time_seconds", NULL, s->o.started_at);
    family(f, "illgan_step", "gauge", "Training iterations completed by the model.");
    sample(f, "illgan_step", NULL, (double)st.step);
    family(f, "illgan_iterations_total", "counter", "Training iterations run by this process.");
    sample(f, "illgan_iterations_total", NULL, (double)st.process_iterations);
    family(f, "illgan_images_total", "counter", "Training images read by this process.");
    sample(f, "illgan_images_total", NULL, (double)st.process_images);
    family(f, "illgan_training_seconds_total", "counter",
           "Seconds spent training by this process, pauses excluded.");
    sample(f, "illgan_training_seconds_total", NULL, st.process_train_seconds);
    family(f, "illgan_paused", "gauge", "1 while training is paused.");
    sample(f, "illgan_paused", NULL, strcmp(st.state, "paused") ? 0 : 1);
    if (st.have_stats) {
        family(f, "illgan_loss", "gauge", "Losses of the latest iteration.");
        sample(f, "illgan_loss", "{net=\"d\"}", st.stats.loss_d);
        sample(f, "illgan_loss", "{net=\"g\"}", st.stats.loss_g);
        sample(f, "illgan_loss", "{net=\"z\"}", st.stats.loss_z);
        family(f, "illgan_discriminator_output", "gauge",
               "Mean sigmoid(D) of the latest iteration on real and on generated images.");
        sample(f, "illgan_discriminator_output", "{batch=\"real\"}", st.stats.d_real);
        sample(f, "illgan_discriminator_output", "{batch=\"fake\"}", st.stats.d_fake);
    }
    family(f, "illgan_images_per_second", "gauge", "Recent training speed in images per second.");
    sample(f, "illgan_images_per_second", NULL, st.images_per_second);
    family(f, "illgan_learning_rate", "gauge", "Current Adam learning rates.");
    sample(f, "illgan_learning_rate", "{net=\"d\"}", st.live.hp.lr_d);
    sample(f, "illgan_learning_rate", "{net=\"g\"}", st.live.hp.lr_g);
    sample(f, "illgan_learning_rate", "{net=\"z\"}", st.live.hp.lr_z);
    family(f, "illgan_batch_size", "gauge", "Current batch size.");
    sample(f, "illgan_batch_size", NULL, st.live.hp.batch_size);
    family(f, "illgan_checkpoints_total", "counter", "Checkpoints written by this process.");
    sample(f, "illgan_checkpoints_total", NULL, (double)st.process_checkpoints);
    family(f, "illgan_last_checkpoint_timestamp_seconds", "gauge",
           "Time of the newest checkpoint, Unix seconds (0: none).");
    sample(f, "illgan_last_checkpoint_timestamp_seconds", NULL,
           st.have_checkpoint ? st.checkpoint.time : 0);
    family(f, "illgan_last_checkpoint_step", "gauge", "Step of the newest checkpoint (-1: none).");
    sample(f, "illgan_last_checkpoint_step", NULL,
           st.have_checkpoint ? (double)st.checkpoint.step : -1);
    family(f, "illgan_dataset_images", "gauge", "Images in the training set.");
    sample(f, "illgan_dataset_images", NULL, s->o.ds->count);
    family(f, "illgan_http_requests_total", "counter", "HTTP replies sent, by status code.");
    int any = 0;
    for (int c = 100; c < 600; c++) {
        long n = atomic_load(&s->replies[c]);
        if (!n)
            continue;
        char lab[32];
        snprintf(lab, sizeof lab, "{code=\"%d\"}", c);
        sample(f, "illgan_http_requests_total", lab, (double)n);
        any = 1;
    }
    if (!any)
        sample(f, "illgan_http_requests_total", "{code=\"200\"}", 0);
    family(f, "illgan_generate_rejected_total", "counter",
           "Image generation requests refused because max_generate were running.");
    sample(f, "illgan_generate_rejected_total", NULL, (double)atomic_load(&s->generate_rejected));
    if (fclose(f)) {
        free(buf);
        return reply_error(r, 500, "internal", NULL, "out of memory");
    }
    reply_bytes(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
    return 0;
}
