#ifndef VXT_CZSTD_H
#define VXT_CZSTD_H
// libzstd's streaming decompressor behind an opaque handle: corpora are also shipped as .json.zst.
#include <stddef.h>

typedef struct vxt_zstd vxt_zstd;

/// Opens a zstd-compressed file (one or more frames) for reading.
vxt_zstd *vxt_zstd_open(const char *path);
/// Reads up to len decompressed bytes; returns the count, 0 at the end, -1 on error.
long vxt_zstd_read(vxt_zstd *file, void *buffer, size_t len);
/// The last error's text.
const char *vxt_zstd_error(vxt_zstd *file);
void vxt_zstd_close(vxt_zstd *file);

#endif
