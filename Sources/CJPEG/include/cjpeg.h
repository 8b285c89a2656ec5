#ifndef VXT_CJPEG_H
#define VXT_CJPEG_H
// libjpeg, libpng, libwebp and giflib reached through functions that return an error string instead of
// calling exit() or longjmp'ing through Swift frames.
#include <stddef.h>

/// Decoded 8-bit RGB pixels, row-major, width*3 bytes per row. Free with vxt_image_free.
typedef struct {
    unsigned char *pixels;
    int width;
    int height;
    /// Size before DCT scaling (JPEG) or the decoded size (PNG).
    int source_width;
    int source_height;
    /// EXIF orientation 1...8 (1 when absent).
    int orientation;
} vxt_image;

/// Reads the JPEG header only.
int vxt_jpeg_dimensions(const unsigned char *data, size_t len, int *width, int *height, char *err, size_t errlen);
/// Decodes to RGB. The DCT scale is the smallest n/8 whose output still covers min_width x
/// min_height (pass 0, 0 for full size). Greyscale, CMYK and YCCK become RGB.
int vxt_jpeg_decode(const unsigned char *data, size_t len, int min_width, int min_height,
                    long max_pixels, vxt_image *out, char *err, size_t errlen);
/// Encodes RGB pixels as a baseline JPEG; *out is malloc'd, free with vxt_buffer_free.
int vxt_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **out, size_t *out_len, char *err, size_t errlen);
/// Decodes a PNG to RGB, compositing any alpha on white.
int vxt_png_decode(const unsigned char *data, size_t len, long max_pixels, vxt_image *out, char *err, size_t errlen);

/// Decodes a WebP still image to RGB, compositing any alpha on white.
int vxt_webp_decode(const unsigned char *data, size_t len, long max_pixels, vxt_image *out, char *err, size_t errlen);
/// Decodes the first frame of a GIF to RGB on a white canvas (transparent pixels stay white).
int vxt_gif_decode(const unsigned char *data, size_t len, long max_pixels, vxt_image *out, char *err, size_t errlen);

void vxt_image_free(vxt_image *image);
void vxt_buffer_free(unsigned char *buffer);

#endif
