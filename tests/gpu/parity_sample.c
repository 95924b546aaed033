/*
 * parity_sample.c — the device sampler (kernels/sample.h) against the CPU specification
 * (pipeline/sampler.c): for many rows of random logits and each setting (greedy, temperature
 * with and without top-p, vocabularies of 7, 200 and 256 ids, logits with ties), the same
 * per-row random states must give the same ids as sampler_draw and leave the same states
 * behind; a row with a NaN or an infinite logit is reported in the error word (the smallest
 * row·V + id). The ids could differ only where u falls within double rounding of a boundary
 * between two ids' masses (about 1e-13 per draw), which these seeds do not hit.
 */
#include "io/rng.h"
#include "kernels/sample.h"
#include "pipeline/sampler.h"
#include "tests/gpu/parity_ops.h"

static void sample_case(int64_t V, double T, double top_p, int ties, uint64_t salt) {
    char po_case[128];
    snprintf(po_case, sizeof po_case, "sample V=%lld T=%g top-p=%g%s", (long long)V, T, top_p,
             ties ? " (tied logits)" : "");
    enum { B = 600 };
    GcRng r = gc_rng(salt);
    float *logits = gc_host(B * V);
    uint64_t *states = (uint64_t *)malloc(sizeof(uint64_t) * 4 * B);
    uint64_t *got_states = (uint64_t *)malloc(sizeof(uint64_t) * 4 * B);
    Rng *rng = (Rng *)malloc(sizeof(Rng) * B);
    uint8_t want[B], got[B], got_out[2 * B];
    Sampler *smp = NULL;
    PoBuf gl = {0}, gs = {0}, gnext = {0}, gout = {0}, gerr = {0};
    const uint64_t no_error = SAMPLE_NO_ERROR;
    uint64_t err = 0;
    for (int64_t i = 0; i < B * V; i++) { // ties: few distinct values
        logits[i] = ties ? (float)(gc_next(&r) % 4) : gc_uniform(&r, -4, 4);
    }
    for (int b = 0; b < B; b++) {
        rng_seed_stream(&rng[b], 99 + salt, (uint64_t)b);
        memcpy(states + 4 * b, rng[b].s, sizeof rng[b].s);
    }
    SamplerOptions so = {.temperature = T, .top_p = top_p};
    PO_TRY(sampler_init(&smp, &so, V));
    for (int b = 0; b < B; b++) {
        int64_t id = sampler_draw(smp, logits + b * V, &rng[b]);
        PO_TRY(id < 0 ? (int)id : 0);
        want[b] = (uint8_t)id;
    }
    PO_TRY(po_in(&gl, logits, B * V, DTYPE_F32));
    PO_TRY(po_raw(&gs, states, sizeof(uint64_t) * 4 * B));
    PO_TRY(po_raw(&gnext, want, B)); // overwritten
    PO_TRY(po_raw(&gout, want, 2 * B));
    PO_TRY(po_raw(&gerr, &no_error, sizeof no_error));
    {
        SampleArgs a = {.B = B, .V = V, .temperature = T, .top_p = top_p,
                        .logits = po_ptr(&gl), .rng = (uint64_t *)gs.b.ptr,
                        .next = (uint8_t *)gnext.b.ptr, .out = (uint8_t *)gout.b.ptr + 1,
                        .out_stride = 2, .error = (uint64_t *)gerr.b.ptr};
        PO_TRY(sample_tokens_cuda(&a));
    }
    PO_TRY(device_cuda_copy(got, gnext.b.ptr, B, DEVICE_COPY_D2H));
    PO_TRY(device_cuda_copy(got_out, gout.b.ptr, 2 * B, DEVICE_COPY_D2H));
    PO_TRY(device_cuda_copy(got_states, gs.b.ptr, sizeof(uint64_t) * 4 * B, DEVICE_COPY_D2H));
    PO_TRY(device_cuda_copy(&err, gerr.b.ptr, sizeof err, DEVICE_COPY_D2H));
    {
        int bad = -1, out_ok = 1, states_ok = 1;
        for (int b = 0; b < B; b++) {
            if (bad < 0 && got[b] != want[b]) bad = b;
            if (got_out[2 * b + 1] != got[b]) out_ok = 0;
            if (memcmp(got_states + 4 * b, rng[b].s, sizeof rng[b].s) != 0) states_ok = 0;
        }
        gc_report(bad < 0 && out_ok && err == SAMPLE_NO_ERROR,
                  "%s: %d rows draw the CPU sampler's ids%s (ids also in out[b·stride])%s", po_case,
                  B, bad < 0 ? "" : ", but not row", out_ok ? "" : "; out differs");
        if (bad >= 0) printf("#   row %d: gpu %d, cpu %d\n", bad, got[bad], want[bad]);
        gc_report(states_ok, "%s: the random states advance as the CPU's (%s)", po_case,
                  T > 0 ? "one draw per row" : "no draw when greedy");
    }
done:
    sampler_free(smp);
    po_free(&gl), po_free(&gs), po_free(&gnext), po_free(&gout), po_free(&gerr);
    free(logits), free(states), free(got_states), free(rng);
}

static void sample_error_case(uint64_t salt) {
    char po_case[] = "sample non-finite logits";
    enum { B = 4, V = 9 };
    GcRng r = gc_rng(salt);
    float logits[B * V];
    uint64_t states[4 * B];
    const uint64_t no_error = SAMPLE_NO_ERROR;
    uint64_t err = 0;
    for (int i = 0; i < B * V; i++) logits[i] = gc_uniform(&r, -1, 1);
    for (int b = 0; b < B; b++) states[4 * b] = states[4 * b + 1] = 1, states[4 * b + 2] = 2,
                                states[4 * b + 3] = 3;
    logits[3 * V + 1] = INFINITY;
    logits[2 * V + 7] = NAN;
    PoBuf gl = {0}, gs = {0}, gnext = {0}, gerr = {0};
    PO_TRY(po_in(&gl, logits, B * V, DTYPE_F32));
    PO_TRY(po_raw(&gs, states, sizeof states));
    PO_TRY(po_raw(&gnext, states, B));
    PO_TRY(po_raw(&gerr, &no_error, sizeof no_error));
    {
        SampleArgs a = {.B = B, .V = V, .temperature = 1.0, .top_p = 1.0,
                        .logits = po_ptr(&gl), .rng = (uint64_t *)gs.b.ptr,
                        .next = (uint8_t *)gnext.b.ptr, .error = (uint64_t *)gerr.b.ptr};
        PO_TRY(sample_tokens_cuda(&a));
    }
    PO_TRY(device_cuda_copy(&err, gerr.b.ptr, sizeof err, DEVICE_COPY_D2H));
    gc_report(err == 2 * V + 7, "%s: the error word names the first bad row and id (row 2, id 7 "
              "= %d; got %llu)", po_case, 2 * V + 7, (unsigned long long)err);
done:
    po_free(&gl), po_free(&gs), po_free(&gnext), po_free(&gerr);
}

void gpu_parity_sample(void) {
    uint64_t salt = 2500;
    static const int64_t vocab[] = {7, 200, 256};
    for (int i = 0; i < 3; i++) {
        sample_case(vocab[i], 0.0, 1.0, 0, salt++);
        sample_case(vocab[i], 1.0, 1.0, 0, salt++);
        sample_case(vocab[i], 0.7, 0.9, 0, salt++);
        sample_case(vocab[i], 1.3, 0.5, 0, salt++);
    }
    sample_case(256, 0.0, 1.0, 1, salt++);
    sample_case(256, 1.0, 0.8, 1, salt++);
    sample_error_case(salt++);
}
