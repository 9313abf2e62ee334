/* Baseline: libsmpp34 (Debian libsmpp34-dev) decoding the same deliver_sm bytes.
 * Usage: libsmpp34_driver FILE.bin NAME -> prints "libsmpp34 NAME BYTES PDUS_PER_S".
 * Each round unpacks the PDU (header, body, TLV list) and frees the TLV list,
 * which is what a libsmpp34 user must do per PDU. Best of 5 rounds. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <libsmpp34/smpp34.h>
#include <libsmpp34/smpp34_structs.h>
#include <libsmpp34/smpp34_params.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    FILE *f = fopen(argv[1], "rb"); if (!f) return 2;
    /* The file holds 1024 copies back to back (distinct sequence numbers), framed by command_length. */
    static uint8_t buf[1 << 20]; int total = (int)fread(buf, 1, sizeof buf, f); fclose(f);
    int len = (buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3];
    double best = 0; unsigned long sum = 0;
    for (int round = 0; round < 5; round++) {
        long n = 0; double start = now(), el;
        do {
            for (int off = 0; off + 16 <= total; ) {
                int l = (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3];
                deliver_sm_t d; memset(&d, 0, sizeof d);
                if (smpp34_unpack(DELIVER_SM, &d, buf + off, l) != 0) { fprintf(stderr, "unpack failed: %s\n", smpp34_strerror); return 1; }
                sum += d.sm_length + d.sequence_number;
                for (tlv_t *t = d.tlv; t; t = t->next) sum += t->tag;
                destroy_tlv(d.tlv);
                off += l; n++;
            }
            el = now() - start;
        } while (el < 0.4);
        if (n / el > best) best = n / el;
    }
    printf("libsmpp34 %s %d %ld\n", argv[2], len, (long)best);
    return sum == 42;
}
