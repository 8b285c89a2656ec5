#ifndef VXT_CZLIB_H
#define VXT_CZLIB_H
// zlib's gzip reader behind an opaque handle: corpora are often shipped as .json.gz.
#include <stddef.h>

typedef struct vxt_gz vxt_gz;

/// Opens a file for reading; gzip files are decompressed, other files are read as they are.
vxt_gz *vxt_gz_open(const char *path);
/// Reads up to len bytes; returns the count, 0 at the end, -1 on error.
long vxt_gz_read(vxt_gz *file, void *buffer, size_t len);
/// The last error's zlib code: 0 (Z_OK) when none; at the end of a truncated stream,
/// gzread returns 0 and this is Z_BUF_ERROR ("unexpected end of file").
int vxt_gz_error_code(vxt_gz *file);
/// The last error's text.
const char *vxt_gz_error(vxt_gz *file);
void vxt_gz_close(vxt_gz *file);

/// zlib's compress2 at the default level: the most bytes it may write for len bytes.
size_t vxt_zlib_bound(size_t len);
/// Compresses len bytes into a zlib stream in dst (cap bytes); returns its size, 0 on error.
size_t vxt_zlib_compress(const void *src, size_t len, void *dst, size_t cap);
/// The CRC-32 of PNG chunks and gzip members, continued from crc (0 to start).
unsigned long vxt_crc32(unsigned long crc, const void *data, size_t len);

#endif
