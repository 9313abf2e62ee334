// libcrypto's SHA-256 for dedup keys. The low-level SHA256_* calls are deprecated
// in OpenSSL 3 in favour of EVP, whose per-call provider fetch and context
// allocation cost more than the hash of a short message; they stay supported.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <openssl/sha.h>

typedef struct { SHA256_CTX ctx; } shim_sha256_ctx;

static inline void shim_sha256_init(shim_sha256_ctx *c) { SHA256_Init(&c->ctx); }
static inline void shim_sha256_update(shim_sha256_ctx *c, const void *data, size_t n) { SHA256_Update(&c->ctx, data, n); }
static inline void shim_sha256_final(shim_sha256_ctx *c, uint8_t out[32]) { SHA256_Final(out, &c->ctx); }
