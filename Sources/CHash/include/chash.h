#ifndef VXT_CHASH_H
#define VXT_CHASH_H
// SHA-256 from OpenSSL's libcrypto behind an opaque handle (EVP contexts are opaque in C too).
#include <stddef.h>

typedef struct vxt_sha256 vxt_sha256;

vxt_sha256 *vxt_sha256_new(void);
void vxt_sha256_update(vxt_sha256 *ctx, const void *data, size_t len);
/// Writes 32 bytes to `out` and frees the context.
void vxt_sha256_finish(vxt_sha256 *ctx, unsigned char *out);
/// Frees a context that will not be finished (a read that failed half-way).
void vxt_sha256_free(vxt_sha256 *ctx);
void vxt_sha256_oneshot(const void *data, size_t len, unsigned char *out);

#endif
