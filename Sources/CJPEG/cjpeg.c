#include "cjpeg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>
#include <gif_lib.h>
#include <webp/demux.h>

// libjpeg reports fatal errors through error_exit, which must not return: jump back here.
struct vxt_jpeg_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char *err;
    size_t errlen;
};

static void vxt_jpeg_error_exit(j_common_ptr cinfo) {
    struct vxt_jpeg_error *e = (struct vxt_jpeg_error *)cinfo->err;
    char message[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, message);
    if (e->err && e->errlen) snprintf(e->err, e->errlen, "%s", message);
    longjmp(e->jump, 1);
}

// Corrupt-data warnings would otherwise be printed to stderr; a truncated file is an error for us.
static void vxt_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) {
        struct vxt_jpeg_error *e = (struct vxt_jpeg_error *)cinfo->err;
        e->mgr.num_warnings++;
    }
}

static struct jpeg_error_mgr *vxt_jpeg_error_init(struct vxt_jpeg_error *jerr, char *err, size_t errlen) {
    memset(jerr, 0, sizeof(*jerr));
    struct jpeg_error_mgr *mgr = jpeg_std_error(&jerr->mgr);
    jerr->mgr.error_exit = vxt_jpeg_error_exit;
    jerr->mgr.emit_message = vxt_jpeg_emit_message;
    jerr->err = err;
    jerr->errlen = errlen;
    return mgr;
}

/* A progressive JPEG may hold thousands of scans, each a pass over every coefficient: a small
   file can cost minutes of CPU. libjpeg's own advice (libjpeg.txt, "progress monitor") is to stop
   after a sane number of scans; real encoders write about ten. */
#define VXT_JPEG_MAX_SCANS 100

static void vxt_jpeg_progress(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > VXT_JPEG_MAX_SCANS) {
        struct vxt_jpeg_error *e = (struct vxt_jpeg_error *)cinfo->err;
        if (e->err && e->errlen)
            snprintf(e->err, e->errlen, "progressive JPEG with more than %d scans (a CPU bomb?); not decoded", VXT_JPEG_MAX_SCANS);
        longjmp(e->jump, 1);
    }
}

static void vxt_set_error(char *err, size_t errlen, const char *message) {
    if (err && errlen) snprintf(err, errlen, "%s", message);
}

static unsigned read16(const unsigned char *p, int little) {
    return little ? (unsigned)(p[0] | (p[1] << 8)) : (unsigned)((p[0] << 8) | p[1]);
}
static unsigned long read32(const unsigned char *p, int little) {
    return little ? ((unsigned long)p[0] | ((unsigned long)p[1] << 8) | ((unsigned long)p[2] << 16) | ((unsigned long)p[3] << 24))
                  : (((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | (unsigned long)p[3]);
}

// The orientation tag (0x0112) of IFD0 in an APP1 "Exif" segment; 1 when absent or unreadable.
static int vxt_exif_orientation(const unsigned char *d, unsigned len) {
    if (len < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
    const unsigned char *t = d + 6;
    unsigned tlen = len - 6;
    int little;
    if (t[0] == 'I' && t[1] == 'I') little = 1;
    else if (t[0] == 'M' && t[1] == 'M') little = 0;
    else return 1;
    unsigned long ifd = read32(t + 4, little);
    if (ifd + 2 > tlen) return 1;
    unsigned count = read16(t + ifd, little);
    for (unsigned i = 0; i < count; i++) {
        unsigned long entry = ifd + 2 + 12UL * i;
        if (entry + 12 > tlen) return 1;
        if (read16(t + entry, little) == 0x0112) {
            unsigned value = read16(t + entry + 8, little);
            return (value >= 1 && value <= 8) ? (int)value : 1;
        }
    }
    return 1;
}

int vxt_jpeg_dimensions(const unsigned char *data, size_t len, int *width, int *height, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct vxt_jpeg_error jerr;
    cinfo.err = vxt_jpeg_error_init(&jerr, err, errlen);
    if (setjmp(jerr.jump)) { jpeg_destroy_decompress(&cinfo); return -1; }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int vxt_jpeg_decode(const unsigned char *data, size_t len, int min_width, int min_height,
                    long max_pixels, vxt_image *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct vxt_jpeg_error jerr;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile row = NULL;
    memset(out, 0, sizeof(*out));
    cinfo.err = vxt_jpeg_error_init(&jerr, err, errlen);
    if (setjmp(jerr.jump)) {
        free(pixels); free(row);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    struct jpeg_progress_mgr progress;
    memset(&progress, 0, sizeof(progress));
    progress.progress_monitor = vxt_jpeg_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    int orientation = 1;
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1) { orientation = vxt_exif_orientation(m->data, m->data_length); break; }
    }
    if (max_pixels > 0 && (long)cinfo.image_width * (long)cinfo.image_height > max_pixels) {
        vxt_set_error(err, errlen, "image has more pixels than the configured limit (decompression bomb guard)");
        out->source_width = (int)cinfo.image_width;
        out->source_height = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return -2;
    }
    // The smallest n/8 scale whose output still covers the requested size on both sides.
    cinfo.scale_num = 8;
    cinfo.scale_denom = 8;
    if (min_width > 0 || min_height > 0) {
        for (unsigned num = 1; num <= 8; num++) {
            unsigned long w = (cinfo.image_width * num + 7) / 8, h = (cinfo.image_height * num + 7) / 8;
            if ((w >= (unsigned long)min_width && h >= (unsigned long)min_height) || num == 8) { cinfo.scale_num = num; break; }
        }
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height, comps = cinfo.output_components;
    pixels = (unsigned char *)malloc((size_t)w * (size_t)h * 3);
    row = (unsigned char *)malloc((size_t)w * (size_t)comps);
    if (!pixels || !row) { vxt_set_error(err, errlen, "out of memory"); longjmp(jerr.jump, 1); }
    // Adobe writes CMYK inverted; Pillow and browsers treat it that way too.
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned y = cinfo.output_scanline;
        unsigned char *dst = pixels + (size_t)y * (size_t)w * 3;
        if (comps == 3) {
            // RGB output goes straight into place, several scanlines per call.
            JSAMPROW rows[8];
            unsigned n = cinfo.output_height - y < 8 ? cinfo.output_height - y : 8;
            for (unsigned i = 0; i < n; i++) rows[i] = dst + (size_t)i * (size_t)w * 3;
            if (jpeg_read_scanlines(&cinfo, rows, n) == 0) break;
            continue;
        }
        JSAMPROW rows[1] = { row };
        if (jpeg_read_scanlines(&cinfo, rows, 1) == 0) break;
        if (comps == 4) {
            for (int x = 0; x < w; x++) {
                int c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                dst[3 * x] = (unsigned char)(c * k / 255);
                dst[3 * x + 1] = (unsigned char)(m * k / 255);
                dst[3 * x + 2] = (unsigned char)(yy * k / 255);
            }
        } else {
            for (int x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x * comps];
        }
    }
    if (jerr.mgr.num_warnings > 0 && cinfo.output_scanline < cinfo.output_height) {
        vxt_set_error(err, errlen, "corrupt JPEG data");
        longjmp(jerr.jump, 1);
    }
    int warnings = (int)jerr.mgr.num_warnings;
    jpeg_finish_decompress(&cinfo);
    // libjpeg pads a truncated file with grey and only warns; a training image must be whole.
    if (warnings > 0 || jerr.mgr.num_warnings > 0) {
        char message[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, message);
        char full[JMSG_LENGTH_MAX + 64];
        snprintf(full, sizeof(full), "corrupt or truncated JPEG: %s", message);
        vxt_set_error(err, errlen, full);
        free(pixels); free(row);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    free(row);
    out->pixels = pixels;
    out->width = w;
    out->height = h;
    out->source_width = (int)cinfo.image_width;
    out->source_height = (int)cinfo.image_height;
    out->orientation = orientation;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int vxt_jpeg_encode(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **out, size_t *out_len, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    struct vxt_jpeg_error jerr;
    unsigned char *buffer = NULL;
    unsigned long size = 0;
    cinfo.err = vxt_jpeg_error_init(&jerr, err, errlen);
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1] = { (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3) };
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_len = (size_t)size;
    return 0;
}

int vxt_png_decode(const unsigned char *data, size_t len, long max_pixels, vxt_image *out, char *err, size_t errlen) {
    png_image image;
    memset(out, 0, sizeof(*out));
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, data, len)) {
        vxt_set_error(err, errlen, image.message[0] ? image.message : "not a readable PNG");
        png_image_free(&image);
        return -1;
    }
    if (max_pixels > 0 && (long)image.width * (long)image.height > max_pixels) {
        vxt_set_error(err, errlen, "image has more pixels than the configured limit (decompression bomb guard)");
        out->source_width = (int)image.width;
        out->source_height = (int)image.height;
        png_image_free(&image);
        return -2;
    }
    image.format = PNG_FORMAT_RGB;
    size_t stride = (size_t)PNG_IMAGE_ROW_STRIDE(image);
    unsigned char *pixels = (unsigned char *)malloc(PNG_IMAGE_BUFFER_SIZE(image, stride));
    if (!pixels) { vxt_set_error(err, errlen, "out of memory"); png_image_free(&image); return -1; }
    // Without an alpha channel in the output format, libpng composites onto this background.
    png_color white = { 255, 255, 255 };
    if (!png_image_finish_read(&image, &white, pixels, (png_int_32)stride, NULL)) {
        vxt_set_error(err, errlen, image.message[0] ? image.message : "corrupt PNG");
        free(pixels);
        png_image_free(&image);
        return -1;
    }
    out->pixels = pixels;
    out->width = (int)image.width;
    out->height = (int)image.height;
    out->source_width = (int)image.width;
    out->source_height = (int)image.height;
    out->orientation = 1;
    png_image_free(&image);
    return 0;
}

int vxt_webp_decode(const unsigned char *data, size_t len, long max_pixels, vxt_image *out, char *err, size_t errlen) {
    int width = 0, height = 0;
    memset(out, 0, sizeof(*out));
    if (!WebPGetInfo(data, len, &width, &height)) {
        vxt_set_error(err, errlen, "not a readable WebP image");
        return -1;
    }
    if (max_pixels > 0 && (long)width * (long)height > max_pixels) {
        vxt_set_error(err, errlen, "image has more pixels than the configured limit (decompression bomb guard)");
        out->source_width = width;
        out->source_height = height;
        return -2;
    }
    /* An animation is a canvas of frames: its first frame, composed on the canvas, is the image
       (WebPDecode refuses animations, which made every animated WebP "corrupt"). */
    WebPBitstreamFeatures features;
    WebPAnimDecoder *animation = NULL;
    const uint8_t *rgba;
    uint8_t *still = NULL;
    if (WebPGetFeatures(data, len, &features) == VP8_STATUS_OK && features.has_animation) {
        WebPData webp = { data, len };
        WebPAnimDecoderOptions options;
        if (!WebPAnimDecoderOptionsInit(&options)) { vxt_set_error(err, errlen, "cannot decode WebP animations"); return -1; }
        options.color_mode = MODE_RGBA;
        options.use_threads = 0;
        animation = WebPAnimDecoderNew(&webp, &options);
        WebPAnimInfo info;
        uint8_t *frame = NULL;
        int timestamp = 0;
        if (!animation || !WebPAnimDecoderGetInfo(animation, &info) || !WebPAnimDecoderGetNext(animation, &frame, &timestamp)) {
            if (animation) WebPAnimDecoderDelete(animation);
            vxt_set_error(err, errlen, "corrupt or truncated WebP animation");
            return -1;
        }
        width = (int)info.canvas_width;
        height = (int)info.canvas_height;
        rgba = frame;
    } else {
        still = WebPDecodeRGBA(data, len, &width, &height);
        if (!still) {
            vxt_set_error(err, errlen, "corrupt or truncated WebP data");
            return -1;
        }
        rgba = still;
    }
    unsigned char *pixels = (unsigned char *)malloc((size_t)width * (size_t)height * 3);
    if (!pixels) {
        if (still) WebPFree(still);
        if (animation) WebPAnimDecoderDelete(animation);
        vxt_set_error(err, errlen, "out of memory");
        return -1;
    }
    size_t n = (size_t)width * (size_t)height;
    for (size_t i = 0; i < n; i++) {
        unsigned a = rgba[4 * i + 3];
        for (int c = 0; c < 3; c++) pixels[3 * i + c] = (unsigned char)((rgba[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
    }
    if (still) WebPFree(still);
    if (animation) WebPAnimDecoderDelete(animation);
    out->pixels = pixels;
    out->width = out->source_width = width;
    out->height = out->source_height = height;
    out->orientation = 1;
    return 0;
}

struct vxt_gif_source { const unsigned char *data; size_t len; size_t pos; };

static int vxt_gif_read(GifFileType *gif, GifByteType *buffer, int wanted) {
    struct vxt_gif_source *src = (struct vxt_gif_source *)gif->UserData;
    size_t left = src->len - src->pos;
    size_t n = (size_t)wanted < left ? (size_t)wanted : left;
    memcpy(buffer, src->data + src->pos, n);
    src->pos += n;
    return (int)n;
}

static int vxt_gif_fail(GifFileType *gif, char *err, size_t errlen, const char *message, int rc) {
    int code = 0;
    vxt_set_error(err, errlen, message ? message : (gif->Error ? GifErrorString(gif->Error) : "cannot decode GIF"));
    DGifCloseFile(gif, &code);
    return rc;
}

/* The first frame only, read record by record: DGifSlurp would decode every frame of an
   animation, and each frame has its own size, which the screen's size says nothing about (a
   100x100 screen may hold a 14000x14000 frame). Every frame read is checked against the limit. */
int vxt_gif_decode(const unsigned char *data, size_t len, long max_pixels, vxt_image *out, char *err, size_t errlen) {
    struct vxt_gif_source src = { data, len, 0 };
    int code = 0;
    memset(out, 0, sizeof(*out));
    GifFileType *gif = DGifOpen(&src, vxt_gif_read, &code);
    if (!gif) { vxt_set_error(err, errlen, GifErrorString(code)); return -1; }
    int width = gif->SWidth, height = gif->SHeight;
    if (width <= 0 || height <= 0) return vxt_gif_fail(gif, err, errlen, "GIF has no size", -1);
    if (max_pixels > 0 && (long)width * (long)height > max_pixels) {
        out->source_width = width;
        out->source_height = height;
        return vxt_gif_fail(gif, err, errlen, "image has more pixels than the configured limit (decompression bomb guard)", -2);
    }
    int transparent = -1;
    for (;;) {
        GifRecordType type;
        if (DGifGetRecordType(gif, &type) != GIF_OK) return vxt_gif_fail(gif, err, errlen, NULL, -1);
        if (type == TERMINATE_RECORD_TYPE) return vxt_gif_fail(gif, err, errlen, "GIF has no frame", -1);
        if (type == EXTENSION_RECORD_TYPE) {
            int ext_code = 0;
            GifByteType *ext = NULL;
            if (DGifGetExtension(gif, &ext_code, &ext) != GIF_OK) return vxt_gif_fail(gif, err, errlen, NULL, -1);
            if (ext_code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) {
                GraphicsControlBlock gcb;
                if (DGifExtensionToGCB(ext[0], ext + 1, &gcb) == GIF_OK) transparent = gcb.TransparentColor;
            }
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) != GIF_OK) return vxt_gif_fail(gif, err, errlen, NULL, -1);
            }
            continue;
        }
        if (type != IMAGE_DESC_RECORD_TYPE) return vxt_gif_fail(gif, err, errlen, "GIF has an unknown record", -1);
        if (DGifGetImageDesc(gif) != GIF_OK) return vxt_gif_fail(gif, err, errlen, NULL, -1);
        GifImageDesc d = gif->Image;
        if (d.Width <= 0 || d.Height <= 0) return vxt_gif_fail(gif, err, errlen, "GIF frame has no size", -1);
        if (max_pixels > 0 && (long)d.Width * (long)d.Height > max_pixels) {
            out->source_width = d.Width;
            out->source_height = d.Height;
            return vxt_gif_fail(gif, err, errlen, "a GIF frame has more pixels than the configured limit (decompression bomb guard)", -2);
        }
        ColorMapObject *map = d.ColorMap ? d.ColorMap : gif->SColorMap;
        if (!map) return vxt_gif_fail(gif, err, errlen, "GIF has no colour map", -1);
        GifPixelType *raster = (GifPixelType *)malloc((size_t)d.Width * (size_t)d.Height);
        if (!raster) return vxt_gif_fail(gif, err, errlen, "out of memory", -1);
        if (d.Interlace) {
            static const int offsets[] = { 0, 4, 2, 1 }, jumps[] = { 8, 8, 4, 2 };
            for (int pass = 0; pass < 4; pass++) {
                for (int y = offsets[pass]; y < d.Height; y += jumps[pass]) {
                    if (DGifGetLine(gif, raster + (size_t)y * (size_t)d.Width, d.Width) != GIF_OK) {
                        free(raster);
                        return vxt_gif_fail(gif, err, errlen, NULL, -1);
                    }
                }
            }
        } else {
            for (int y = 0; y < d.Height; y++) {
                if (DGifGetLine(gif, raster + (size_t)y * (size_t)d.Width, d.Width) != GIF_OK) {
                    free(raster);
                    return vxt_gif_fail(gif, err, errlen, NULL, -1);
                }
            }
        }
        unsigned char *pixels = (unsigned char *)malloc((size_t)width * (size_t)height * 3);
        if (!pixels) { free(raster); return vxt_gif_fail(gif, err, errlen, "out of memory", -1); }
        memset(pixels, 255, (size_t)width * (size_t)height * 3);
        for (int y = 0; y < d.Height; y++) {
            int cy = d.Top + y;
            if (cy < 0 || cy >= height) continue;
            for (int x = 0; x < d.Width; x++) {
                int cx = d.Left + x;
                if (cx < 0 || cx >= width) continue;
                int index = raster[(size_t)y * (size_t)d.Width + (size_t)x];
                if (index == transparent || index >= map->ColorCount) continue;
                GifColorType c = map->Colors[index];
                unsigned char *p = pixels + ((size_t)cy * (size_t)width + (size_t)cx) * 3;
                p[0] = c.Red; p[1] = c.Green; p[2] = c.Blue;
            }
        }
        free(raster);
        DGifCloseFile(gif, &code);
        out->pixels = pixels;
        out->width = out->source_width = width;
        out->height = out->source_height = height;
        out->orientation = 1;
        return 0;
    }
}

void vxt_image_free(vxt_image *image) { if (image) { free(image->pixels); image->pixels = NULL; } }
void vxt_buffer_free(unsigned char *buffer) { free(buffer); }
