/*
 * mulaw_codes.c — test helper: the µ-law code of every PCM16 value s = -32768..32767 (x =
 * s / 32768), from mulaw_encode() then from mulaw_encode_array(): 2 × 65536 bytes on stdout.
 * Read by tests/py/test_mulaw_reference.py, which recomputes them with the formula of the
 * project's bigram floors.
 */
#include <stdint.h>
#include <stdio.h>

#include "io/encode.h"

int main(void) {
    static float x[65536];
    static uint8_t codes[2][65536];
    for (int s = -32768; s < 32768; s++) x[s + 32768] = (float)s / 32768.0f;
    for (int i = 0; i < 65536; i++) codes[0][i] = mulaw_encode(x[i]);
    mulaw_encode_array(codes[1], x, 65536);
    if (fwrite(codes, 1, sizeof codes, stdout) != sizeof codes || fflush(stdout) != 0) {
        fprintf(stderr, "mulaw_codes: write failed\n");
        return 1;
    }
    return 0;
}
