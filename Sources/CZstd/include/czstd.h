#ifndef VXT_CZSTD_H
#define VXT_CZSTD_H
// libzstd behind a small surface: a streaming decompressor (corpora are also shipped as .json.zst)
// and one-shot frames for the job store's texts.
#include <stddef.h>

typedef struct vxt_zstd vxt_zstd;

/// Opens a zstd-compressed file (one or more frames) for reading.
vxt_zstd *vxt_zstd_open(const char *path);
/// Reads up to len decompressed bytes; returns the count, 0 at the end, -1 on error.
long vxt_zstd_read(vxt_zstd *file, void *buffer, size_t len);
/// The last error's text.
const char *vxt_zstd_error(vxt_zstd *file);
void vxt_zstd_close(vxt_zstd *file);

/// Most bytes `vxt_zstd_compress` writes for `len` input bytes.
size_t vxt_zstd_compress_bound(size_t len);
/// Compresses `src` into one frame (with its content size) at `level`, with a context kept per
/// thread; returns the frame's size, or 0 on error.
size_t vxt_zstd_compress(void *dst, size_t capacity, const void *src, size_t len, int level);
/// The content size a frame declares, or -1 when it declares none or is not a frame.
long long vxt_zstd_frame_content_size(const void *src, size_t len);
/// Decompresses one frame into `dst`; returns the byte count, or -1 on error.
long long vxt_zstd_decompress(void *dst, size_t capacity, const void *src, size_t len);

#endif
