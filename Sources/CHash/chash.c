#include "chash.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>

// By default libcrypto frees its locks and tables in an atexit handler. A process that calls
// exit() while another thread is still hashing (a SIGTERM during ingest, the mock teacher's
// --exit-after) then has that thread take a freed lock: SIGSEGV (status 139) instead of the exit
// status asked for, in ~10% of such exits. The choice is made by the first initialisation in the
// process (libcurl's later one cannot undo it), so it is made at load time, before main.
__attribute__((constructor)) static void vxt_crypto_init_without_atexit(void) {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
}

struct vxt_sha256 { EVP_MD_CTX *md; };

vxt_sha256 *vxt_sha256_new(void) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return NULL;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(md); return NULL; }
    vxt_sha256 *ctx = (vxt_sha256 *)OPENSSL_malloc(sizeof(vxt_sha256));
    if (!ctx) { EVP_MD_CTX_free(md); return NULL; }
    ctx->md = md;
    return ctx;
}

void vxt_sha256_update(vxt_sha256 *ctx, const void *data, size_t len) { EVP_DigestUpdate(ctx->md, data, len); }

void vxt_sha256_finish(vxt_sha256 *ctx, unsigned char *out) {
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx->md, out, &n);
    EVP_MD_CTX_free(ctx->md);
    OPENSSL_free(ctx);
}

void vxt_sha256_free(vxt_sha256 *ctx) {
    if (!ctx) return;
    EVP_MD_CTX_free(ctx->md);
    OPENSSL_free(ctx);
}

void vxt_sha256_oneshot(const void *data, size_t len, unsigned char *out) {
    unsigned int n = 0;
    EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}
