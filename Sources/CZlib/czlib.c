#include "czlib.h"
#include <stdlib.h>
#include <zlib.h>

struct vxt_gz { gzFile file; };

vxt_gz *vxt_gz_open(const char *path) {
    gzFile file = gzopen(path, "rb");
    if (!file) return NULL;
    gzbuffer(file, 1 << 20);
    vxt_gz *handle = (vxt_gz *)malloc(sizeof(vxt_gz));
    if (!handle) { gzclose(file); return NULL; }
    handle->file = file;
    return handle;
}

long vxt_gz_read(vxt_gz *handle, void *buffer, size_t len) {
    if (len > (1u << 30)) len = 1u << 30;
    int n = gzread(handle->file, buffer, (unsigned)len);
    return n < 0 ? -1 : (long)n;
}

int vxt_gz_error_code(vxt_gz *handle) {
    int code = 0;
    gzerror(handle->file, &code);
    return code;
}

const char *vxt_gz_error(vxt_gz *handle) {
    int code = 0;
    return gzerror(handle->file, &code);
}

void vxt_gz_close(vxt_gz *handle) {
    gzclose(handle->file);
    free(handle);
}

size_t vxt_zlib_bound(size_t len) { return (size_t)compressBound((uLong)len); }

size_t vxt_zlib_compress(const void *src, size_t len, void *dst, size_t cap) {
    uLongf out = (uLongf)cap;
    if (compress2((Bytef *)dst, &out, (const Bytef *)src, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK) return 0;
    return (size_t)out;
}

unsigned long vxt_crc32(unsigned long crc, const void *data, size_t len) {
    return crc32((uLong)crc, (const Bytef *)data, (uInt)len);
}
