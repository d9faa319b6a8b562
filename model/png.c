/* png.c - the PNG writer (png.h): signature, IHDR, one IDAT, IEND (PNG spec, ISO/IEC
 * 15948, sections 5 and 11), CRC-32 from zlib's crc32 over each chunk's type and data.
 * Rows use filter type 0 (none): the grids are small and compress well enough. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "diffode/fileio.h"
#include "diffode/png.h"
#include "diffode/status.h"
#include "font5x7.h"

#define PNG_MAX_SIDE ((size_t)1 << 24)

static const unsigned char PNG_SIGNATURE[8] = { 137, 'P', 'N', 'G', 13, 10, 26, 10 };

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes one chunk (length, type, data, CRC of type + data) at out; returns its size. */
static size_t put_chunk(unsigned char *out, const char *type, const unsigned char *data,
                        size_t len)
{
    put_be32(out, (uint32_t)len);
    memcpy(out + 4, type, 4);
    if (len > 0)
        memmove(out + 8, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out + 4, (uInt)(len + 4));
    put_be32(out + 8 + len, (uint32_t)crc);
    return len + 12;
}

/* The raw scanlines: a filter byte 0 before each row ([height][1 + width * channels]). */
static unsigned char *scanlines(const unsigned char *pixels, size_t width, size_t height,
                                int channels, size_t *len)
{
    const size_t stride = width * (size_t)channels;
    unsigned char *raw = malloc((stride + 1) * height);
    if (raw == NULL)
        return NULL;
    for (size_t y = 0; y < height; y++) {
        raw[y * (stride + 1)] = 0;
        memcpy(raw + y * (stride + 1) + 1, pixels + y * stride, stride);
    }
    *len = (stride + 1) * height;
    return raw;
}

/* The whole file into a buffer sized from compressBound; the IDAT is deflated in place. */
static int assemble(const unsigned char *raw, size_t rawlen, size_t width, size_t height,
                    int channels, unsigned char **png, size_t *len)
{
    const uLong bound = compressBound((uLong)rawlen);
    unsigned char *out = malloc(8 + 25 + 12 + bound + 12);
    if (out == NULL)
        return DODE_ENOMEM;
    unsigned char ihdr[13];
    put_be32(ihdr, (uint32_t)width);
    put_be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;                              /* bit depth */
    ihdr[9] = channels == 1 ? 0 : 2;          /* colour type: gray or truecolour */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;       /* deflate, adaptive filters, no interlace */
    memcpy(out, PNG_SIGNATURE, 8);
    size_t off = 8 + put_chunk(out + 8, "IHDR", ihdr, 13);
    uLongf zlen = bound;
    if (compress2(out + off + 8, &zlen, raw, (uLong)rawlen, 9) != Z_OK) {
        free(out);
        return DODE_ENOMEM;
    }
    off += put_chunk(out + off, "IDAT", out + off + 8, zlen);
    off += put_chunk(out + off, "IEND", NULL, 0);
    *png = out;
    *len = off;
    return DODE_OK;
}

int dode_png_encode(const unsigned char *pixels, size_t width, size_t height, int channels,
                    unsigned char **png, size_t *len, char *err, size_t errlen)
{
    if (pixels == NULL || png == NULL || len == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "PNG encode: NULL argument");
    if (channels != 1 && channels != 3)
        return dode_fail(err, errlen, DODE_EINVAL, "PNG encode: %d channels (expected 1, "
                         "gray, or 3, RGB)", channels);
    if (width == 0 || height == 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE
        || (width * 3 + 1) * height > ((size_t)1 << 31))
        return dode_fail(err, errlen, DODE_EINVAL, "PNG encode: size %zu x %zu is empty or "
                         "too large", width, height);
    size_t rawlen = 0;
    unsigned char *raw = scanlines(pixels, width, height, channels, &rawlen);
    int rc = raw == NULL ? DODE_ENOMEM
           : assemble(raw, rawlen, width, height, channels, png, len);
    free(raw);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "PNG encode: out of memory for %zu x %zu pixels",
                         width, height);
    return DODE_OK;
}

int dode_png_write(const char *path, const unsigned char *pixels, size_t width,
                   size_t height, int channels, char *err, size_t errlen)
{
    unsigned char *png = NULL;
    size_t len = 0;
    char why[256];
    if (path == NULL)
        return dode_fail(err, errlen, DODE_EINVAL, "PNG write: NULL path");
    int rc = dode_png_encode(pixels, width, height, channels, &png, &len, why, sizeof why);
    if (rc != DODE_OK)
        return dode_fail(err, errlen, rc, "cannot write %s: %s", path, why);
    rc = dode_write_atomic(path, png, len, err, errlen);
    free(png);
    return rc;
}

/* v in [lo, hi] to 0..255, clipped; NaN to 0. */
static unsigned char level(double v, double lo, double hi)
{
    const double u = 255.0 * (v - lo) / (hi - lo);
    return !(u > 0) ? 0 : u >= 255 ? 255 : (unsigned char)lround(u);
}

/* Tile k's pixels into the grid image of width W, each a k x k block. */
static void draw_tile(unsigned char *img, size_t W, const double *tile, size_t x0, size_t y0,
                      size_t th, size_t tw, double lo, double hi, size_t k)
{
    for (size_t y = 0; y < th * k; y++)
        for (size_t x = 0; x < tw * k; x++)
            img[(y0 + y) * W + x0 + x] = level(tile[(y / k) * tw + x / k], lo, hi);
}

enum { LABEL_MAX = 64 };

/* Text in black from (x0, y0), the top left of its first glyph, a dot being d x d pixels;
 * what falls outside the W x H image is not drawn. */
static void draw_text(unsigned char *img, size_t W, size_t H, const char *text, long x0,
                      long y0, size_t d)
{
    for (size_t i = 0; text[i] != '\0' && i < LABEL_MAX; i++)
        for (int r = 0; r < FONT5X7_H; r++)
            for (int c = 0; c < FONT5X7_W; c++) {
                if (!font5x7_ink(text[i], r, c))
                    continue;
                const long px = x0 + (long)((i * (FONT5X7_W + 1) + (size_t)c) * d),
                           py = y0 + (long)((size_t)r * d);
                for (size_t y = 0; y < d; y++)
                    for (size_t x = 0; x < d; x++)
                        if (px + (long)x >= 0 && (size_t)px + x < W && py + (long)y >= 0 &&
                            (size_t)py + y < H)
                            img[((size_t)py + y) * W + (size_t)px + x] = 0;
            }
}

/* The longest of n labels (0 for none), cut at LABEL_MAX. */
static size_t longest(const char *const *labels, size_t n)
{
    size_t m = 0;
    for (size_t k = 0; labels != NULL && k < n; k++) {
        const size_t len = labels[k] != NULL ? strlen(labels[k]) : 0;
        m = len > m ? len : m;
    }
    return m < LABEL_MAX ? m : LABEL_MAX;
}

int dode_png_write_grid_labelled(const char *path, const double *tiles, size_t rows,
                                 size_t cols, size_t tile_h, size_t tile_w,
                                 const dode_png_grid_style *st, char *err, size_t errlen)
{
    const size_t pad = st != NULL ? st->pad : 0, k = st != NULL ? st->scale : 0;
    if (path == NULL || tiles == NULL || st == NULL || rows == 0 || cols == 0 ||
        tile_h == 0 || tile_w == 0 || !(st->hi > st->lo) || pad > 64 || k == 0 || k > 16 ||
        rows > PNG_MAX_SIDE / (tile_h + pad) || cols > PNG_MAX_SIDE / (tile_w + pad))
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: a grid of %zu x %zu tiles "
                         "of %zu x %zu (pad %zu, scale %zu, range [%g, %g]) is empty or out "
                         "of range", path != NULL ? path : "(null)", rows, cols, tile_h,
                         tile_w, pad, k, st != NULL ? st->lo : NAN, st != NULL ? st->hi : NAN);
    /* margins: a dot is d pixels, a glyph advances 6 dots, m pixels around the text */
    const size_t d = k / 2 > 1 ? k / 2 : 1, m = 4 * d;
    const size_t left = st->row_labels ? longest(st->row_labels, rows) * (FONT5X7_W + 1) * d
                                         + 2 * m : 0;
    const size_t top = st->col_labels ? FONT5X7_H * d + 2 * m : 0;
    const size_t W = left + (cols * (tile_w + pad) + pad) * k,
                 H = top + (rows * (tile_h + pad) + pad) * k;
    if (W > PNG_MAX_SIDE || H > PNG_MAX_SIDE)
        return dode_fail(err, errlen, DODE_EINVAL, "cannot write %s: %zu x %zu pixels is over "
                         "2^24 a side", path, W, H);
    unsigned char *img = malloc(W * H);
    if (img == NULL)
        return dode_fail(err, errlen, DODE_ENOMEM, "cannot write %s: out of memory", path);
    memset(img, 255, W * H);                            /* white margins */
    for (size_t y = top; y < H; y++)
        memset(img + y * W + left, st->pad_level, W - left);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            draw_tile(img, W, tiles + (r * cols + c) * tile_h * tile_w,
                      left + (pad + c * (tile_w + pad)) * k, top + (pad + r * (tile_h + pad)) * k,
                      tile_h, tile_w, st->lo, st->hi, k);
    for (size_t r = 0; st->row_labels != NULL && r < rows; r++)   /* centred on the row */
        if (st->row_labels[r] != NULL)
            draw_text(img, W, H, st->row_labels[r], (long)m,
                      (long)(top + (pad + r * (tile_h + pad)) * k + tile_h * k / 2) -
                          (long)(FONT5X7_H * d / 2), d);
    for (size_t c = 0; st->col_labels != NULL && c < cols; c++)    /* centred on the column */
        if (st->col_labels[c] != NULL) {
            const size_t len = longest(&st->col_labels[c], 1);
            draw_text(img, W, H, st->col_labels[c],
                      (long)(left + (pad + c * (tile_w + pad)) * k + tile_w * k / 2) -
                          (long)(len * (FONT5X7_W + 1) * d / 2), (long)m, d);
        }
    int rc = dode_png_write(path, img, W, H, 1, err, errlen);
    free(img);
    return rc;
}

int dode_png_write_grid(const char *path, const double *tiles, size_t rows, size_t cols,
                        size_t tile_h, size_t tile_w, double lo, double hi, size_t pad,
                        unsigned char pad_level, char *err, size_t errlen)
{
    const dode_png_grid_style st = { .lo = lo, .hi = hi, .pad = pad, .pad_level = pad_level,
                                     .scale = 1 };
    return dode_png_write_grid_labelled(path, tiles, rows, cols, tile_h, tile_w, &st, err,
                                        errlen);
}
