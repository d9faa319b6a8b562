/* png.h - a minimal PNG writer (8-bit grayscale or RGB, zlib), for sample grids.
 *
 * The file is a signature, IHDR, one IDAT (the rows, each with filter byte 0, deflated
 * by zlib) and IEND, each chunk with its CRC-32; written atomically (fileio.h's
 * dode_write_atomic), so a failure leaves no file under the path. */
#ifndef DIFFODE_PNG_H
#define DIFFODE_PNG_H

#include <stddef.h>

/* Encodes width x height pixels of `channels` bytes (1 gray, 3 RGB), rows top to bottom
 * ([height][width][channels]), into a malloc'ed PNG (*png, *len; caller frees).
 * DODE_EINVAL for a zero or too large size (> 2^24 a side) or other channel counts. */
int dode_png_encode(const unsigned char *pixels, size_t width, size_t height, int channels,
                    unsigned char **png, size_t *len, char *err, size_t errlen);

/* Encodes and writes to path atomically. Messages name the path. */
int dode_png_write(const char *path, const unsigned char *pixels, size_t width,
                   size_t height, int channels, char *err, size_t errlen);

/* A grayscale grid of rows x cols tiles, tile k (row-major in the grid) being
 * tiles[k][tile_h][tile_w] doubles: value v becomes round(255 (v - lo) / (hi - lo)),
 * clipped to 0..255 (NaN becomes 0); tiles are separated, and framed, by `pad` pixels of
 * gray level `pad_level`. Written atomically to path. */
int dode_png_write_grid(const char *path, const double *tiles, size_t rows, size_t cols,
                        size_t tile_h, size_t tile_w, double lo, double hi, size_t pad,
                        unsigned char pad_level, char *err, size_t errlen);

/* How dode_png_write_grid_labelled draws a grid. */
typedef struct {
    double lo, hi;                  /* values mapped to 0..255 as by dode_png_write_grid */
    size_t pad;                     /* pixels between and around tiles, before scaling */
    unsigned char pad_level;        /* their gray level */
    size_t scale;                   /* each pixel drawn as a scale x scale block, 1..16 */
    const char *const *row_labels;  /* [rows] text left of each row, or NULL */
    const char *const *col_labels;  /* [cols] text above each column, or NULL */
} dode_png_grid_style;

/* The grid of dode_png_write_grid drawn `scale` times larger, with the labels in black on
 * white margins (a 5 x 7 dot font, a dot being max(1, scale / 2) pixels; a label is cut
 * at 64 characters; a column label wider than its column runs into the next). Written
 * atomically to path. DODE_EINVAL for what dode_png_write_grid refuses, a scale of 0 or
 * above 16, or an image wider or taller than 2^24. */
int dode_png_write_grid_labelled(const char *path, const double *tiles, size_t rows,
                                 size_t cols, size_t tile_h, size_t tile_w,
                                 const dode_png_grid_style *style, char *err, size_t errlen);

#endif
