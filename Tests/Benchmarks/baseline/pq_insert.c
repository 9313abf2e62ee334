// Raw libpq baseline for `make bench-store`: rows of the same shape and size as the
// bridge's into the same `messages` table (migrated schema), with fsync and
// synchronous_commit on. It does less than the bridge's writer: no dedup table and
// no NOTIFY, so it is a strict upper bound for "raw libpq".
//   pq_insert CONNINFO ROWS_PER_INSERT TOTAL_ROWS CONNECTIONS
// ROWS_PER_INSERT 1 = one INSERT per transaction (autocommit); N = N-row multi-row
// INSERTs, one per transaction. With a fifth argument "dedup", each transaction is
// BEGIN, a multi-row INSERT into message_dedup ON CONFLICT DO NOTHING, the messages
// INSERT, COMMIT, sent in libpq pipeline mode (one round trip, as the writer does):
// the same work as the bridge's writer but for NOTIFY. Dedup keys and order ids are
// scattered as the real ones are (keys are hashes, orders are whoever rents the
// number): sequential keys would make every index insert a cheap rightmost one.
// Prints one JSON line.
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define COLS 24
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static const char *cols = "received_at, carrier, bind, source_addr, source_ton, source_normalized, destination_addr, "
    "destination_ton, destination_normalized, order_id, lease_version, service, outcome, service_mismatch, data_coding, "
    "text, text_invalid, otp_code, otp_confidence, otp_rule, part_count, missing_parts, dedup_key, raw_pdus";
static const char *casts[COLS] = {"timestamptz", "text", "text", "text", "smallint", "text", "text", "smallint", "text",
    "bigint", "integer", "text", "text", "boolean", "smallint", "text", "boolean", "text", "real", "text", "smallint",
    "smallint[]", "uuid", "bytea[]"};

static unsigned long mix(unsigned long x) {  // splitmix64
    x += 0x9E3779B97F4A7C15UL; x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL; x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
    return x ^ (x >> 31);
}

/// One pipelined result: the command's, then the NULL that ends it.
static void pipeline_ok(PGconn *c) {
    PGresult *r = PQgetResult(c);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); exit(1); }
    PQclear(r);
    if ((r = PQgetResult(c))) { fprintf(stderr, "pipeline: more than one result\n"); exit(1); }
}

static void exec_ok(PGconn *c, PGresult *r) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); exit(1); }
    PQclear(r);
}

static void run(const char *conninfo, int per, long total, int worker, int dedup) {
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); exit(1); }
    PQclear(PQexec(c, "SET synchronous_commit = on"));
    // The statement: INSERT ... VALUES ($1::t, ...), (...), ... with per*24 parameters.
    size_t cap = 256 + (size_t)per * COLS * 24;
    char *sql = malloc(cap); size_t n = (size_t)snprintf(sql, cap, "INSERT INTO messages (%s) VALUES ", cols);
    for (int r = 0; r < per; r++) {
        n += (size_t)snprintf(sql + n, cap - n, r ? ",(" : "(");
        for (int k = 0; k < COLS; k++) n += (size_t)snprintf(sql + n, cap - n, "%s$%d::%s", k ? "," : "", r * COLS + k + 1, casts[k]);
        n += (size_t)snprintf(sql + n, cap - n, ")");
    }
    PGresult *p = PQprepare(c, "ins", sql, 0, NULL);
    if (PQresultStatus(p) != PGRES_COMMAND_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); exit(1); }
    PQclear(p);
    if (dedup) {
        // With the message's id, as the writer's dedup row has it since migration 4.
        n = (size_t)snprintf(sql, cap, "INSERT INTO message_dedup (dedup_key, received_at, message_id) VALUES ");
        for (int r = 0; r < per; r++)
            n += (size_t)snprintf(sql + n, cap - n, "%s($%d::uuid, now(), nextval('messages_id_seq'))", r ? "," : "", r + 1);
        snprintf(sql + n, cap - n, " ON CONFLICT DO NOTHING");
        exec_ok(c, PQprepare(c, "dedup", sql, 0, NULL));
    }
    const char **dk = malloc(sizeof(char *) * (size_t)per);
    // 160 GSM characters of text, a 210-byte PDU as hex.
    char text[161]; for (int i = 0; i < 160; i++) text[i] = "Your verification code is 482913. Do not share it. "[i % 51]; text[160] = 0;
    char pdu[8 + 420 + 4]; strcpy(pdu, "{\"\\\\x"); for (int i = 0; i < 210; i++) sprintf(pdu + 5 + i * 2, "%02x", (i * 37) & 0xff);
    strcat(pdu, "\"}");
    char (*keys)[40] = malloc((size_t)per * 40), (*orders)[24] = malloc((size_t)per * 24), (*dests)[24] = malloc((size_t)per * 24);
    const char **v = malloc(sizeof(char *) * (size_t)per * COLS);
    long done = 0, seq = 0;
    while (done < total) {
        for (int r = 0; r < per; r++, seq++) {
            unsigned long id = ((unsigned long)worker << 48) | (unsigned long)seq;
            snprintf(keys[r], 40, "%016lx%016lx", mix(id), mix(~id));
            snprintf(orders[r], 24, "%lu", 1000000 + mix(id ^ 0x5A5A) % 1000000);
            snprintf(dests[r], 24, "4477%08ld", seq % 100000000);
            const char *row[COLS] = {"2026-12-01 12:00:00+00", "carrier-a", "carrier-a-1", "Google", "5", "Google", dests[r], "1",
                dests[r], orders[r], "1", "google", "routed", "f", "0", text, "f", "482913", "0.97", "google:G-######", "1",
                "{}", keys[r], pdu};
            memcpy(v + (size_t)r * COLS, row, sizeof row);
        }
        if (dedup) {
            for (int r = 0; r < per; r++) dk[r] = keys[r];
            if (!PQenterPipelineMode(c) || !PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)
                || !PQsendQueryPrepared(c, "dedup", per, dk, NULL, NULL, 0)
                || !PQsendQueryPrepared(c, "ins", per * COLS, v, NULL, NULL, 0)
                || !PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) || !PQpipelineSync(c)) {
                fprintf(stderr, "%s", PQerrorMessage(c)); exit(1);
            }
            for (int k = 0; k < 4; k++) pipeline_ok(c);
            PGresult *sync = PQgetResult(c);
            if (!sync || PQresultStatus(sync) != PGRES_PIPELINE_SYNC) { fprintf(stderr, "pipeline: no sync\n"); exit(1); }
            PQclear(sync);
            PQexitPipelineMode(c);
        } else {
            PGresult *res = PQexecPrepared(c, "ins", per * COLS, v, NULL, NULL, 0);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) { fprintf(stderr, "%s", PQerrorMessage(c)); exit(1); }
            PQclear(res);
        }
        done += per;
    }
    PQfinish(c);
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s CONNINFO ROWS_PER_INSERT TOTAL CONNECTIONS\n", argv[0]); return 2; }
    int per = atoi(argv[2]), conns = atoi(argv[4]), dedup = argc > 5 && strcmp(argv[5], "dedup") == 0;
    long total = atol(argv[3]);
    double t0 = now();
    for (int w = 0; w < conns; w++) if (fork() == 0) { run(argv[1], per, total / conns, w, dedup); _exit(0); }
    int st, ok = 1; while (wait(&st) > 0) if (!WIFEXITED(st) || WEXITSTATUS(st)) ok = 0;
    double dt = now() - t0;
    if (!ok) return 1;
    printf("{\"dedup\":%s,\"rows_per_insert\":%d,\"connections\":%d,\"rows\":%ld,\"seconds\":%.3f,\"rows_per_s\":%.0f}\n", dedup ? "true" : "false", per, conns, total, dt, total / dt);
    return 0;
}
