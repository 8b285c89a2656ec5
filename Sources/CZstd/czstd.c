#include "czstd.h"
#include <stdio.h>
#include <stdlib.h>
#include <zstd.h>

struct vxt_zstd {
    FILE *file;
    ZSTD_DStream *stream;
    void *in;
    size_t capacity;
    ZSTD_inBuffer input;
    int eof;
    size_t pending;  // ZSTD_decompressStream's last hint: 0 when a frame just ended
    const char *error;
};

vxt_zstd *vxt_zstd_open(const char *path) {
    vxt_zstd *h = (vxt_zstd *)calloc(1, sizeof(vxt_zstd));
    if (!h) return NULL;
    h->file = fopen(path, "rb");
    h->stream = ZSTD_createDStream();
    h->capacity = ZSTD_DStreamInSize();
    h->in = malloc(h->capacity);
    if (!h->file || !h->stream || !h->in) { vxt_zstd_close(h); return NULL; }
    ZSTD_initDStream(h->stream);
    h->input.src = h->in;
    h->error = "no error";
    return h;
}

long vxt_zstd_read(vxt_zstd *h, void *buffer, size_t len) {
    ZSTD_outBuffer out = { buffer, len, 0 };
    for (;;) {
        if (h->input.pos == h->input.size && !h->eof) {
            size_t n = fread(h->in, 1, h->capacity, h->file);
            if (n == 0) {
                if (ferror(h->file)) { h->error = "read error"; return -1; }
                h->eof = 1;
            }
            h->input.size = n;
            h->input.pos = 0;
        }
        int drained = h->eof && h->input.pos == h->input.size;
        // All input read and the last frame complete: the end.
        if (drained && h->pending == 0) return 0;
        size_t ret = ZSTD_decompressStream(h->stream, &out, &h->input);
        if (ZSTD_isError(ret)) { h->error = ZSTD_getErrorName(ret); return -1; }
        h->pending = ret;
        if (out.pos > 0) return (long)out.pos;
        if (drained) { h->error = "the file ends inside a zstd frame (truncated)"; return -1; }
    }
}

const char *vxt_zstd_error(vxt_zstd *h) { return h->error; }

void vxt_zstd_close(vxt_zstd *h) {
    if (!h) return;
    if (h->file) fclose(h->file);
    if (h->stream) ZSTD_freeDStream(h->stream);
    free(h->in);
    free(h);
}

size_t vxt_zstd_compress_bound(size_t len) { return ZSTD_compressBound(len); }

// Contexts are reused per thread: making one per call costs more than compressing a 2 KB text.
static __thread ZSTD_CCtx *compressor;
static __thread ZSTD_DCtx *decompressor;

size_t vxt_zstd_compress(void *dst, size_t capacity, const void *src, size_t len, int level) {
    if (!compressor && !(compressor = ZSTD_createCCtx())) return 0;
    size_t n = ZSTD_compressCCtx(compressor, dst, capacity, src, len, level);
    return ZSTD_isError(n) ? 0 : n;
}

long long vxt_zstd_frame_content_size(const void *src, size_t len) {
    unsigned long long size = ZSTD_getFrameContentSize(src, len);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR || size > (1ULL << 40)) return -1;
    return (long long)size;
}

long long vxt_zstd_decompress(void *dst, size_t capacity, const void *src, size_t len) {
    if (!decompressor && !(decompressor = ZSTD_createDCtx())) return -1;
    size_t n = ZSTD_decompressDCtx(decompressor, dst, capacity, src, len);
    return ZSTD_isError(n) ? -1 : (long long)n;
}
