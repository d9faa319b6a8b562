/* check_png.c - the PNG writer (png.h), read back here with zlib: the signature, IHDR's
 * fields, every chunk's CRC (zlib's crc32), the inflated rows equal to the input; the
 * grid's layout and value mapping, scaled and labelled; the label font's glyphs; and
 * refused writes that leave no file. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "diffode/png.h"
#include "testutil.h"
#include "../model/font5x7.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Walks the chunks of png (checking each CRC), fills the IHDR fields and returns the
 * inflated IDAT data (malloc'ed, *rawlen bytes). */
static unsigned char *decode(const unsigned char *png, size_t len, uint32_t *w, uint32_t *h,
                             int *depth, int *ctype, size_t expect_raw)
{
    static const unsigned char sig[8] = { 137, 'P', 'N', 'G', 13, 10, 26, 10 };
    ck_assert(len > 8 && memcmp(png, sig, 8) == 0);
    unsigned char *idat = malloc(len), *raw = malloc(expect_raw + 1);
    size_t off = 8, idat_len = 0;
    int seen_end = 0;
    while (off + 12 <= len && !seen_end) {
        const uint32_t n = be32(png + off);
        ck_assert(off + 12 + n <= len);
        const uLong crc = crc32(crc32(0L, Z_NULL, 0), png + off + 4, n + 4);
        ck_assert_uint_eq(be32(png + off + 8 + n), (uint32_t)crc);
        if (memcmp(png + off + 4, "IHDR", 4) == 0) {
            ck_assert(off == 8 && n == 13);
            *w = be32(png + off + 8);
            *h = be32(png + off + 12);
            *depth = png[off + 16];
            *ctype = png[off + 17];
            ck_assert(png[off + 18] == 0 && png[off + 19] == 0 && png[off + 20] == 0);
        } else if (memcmp(png + off + 4, "IDAT", 4) == 0) {
            memcpy(idat + idat_len, png + off + 8, n);
            idat_len += n;
        }
        seen_end = memcmp(png + off + 4, "IEND", 4) == 0;
        off += 12 + n;
    }
    ck_assert(seen_end && off == len);
    uLongf rawlen = expect_raw + 1;
    ck_assert_int_eq(uncompress(raw, &rawlen, idat, idat_len), Z_OK);
    ck_assert_uint_eq(rawlen, expect_raw);
    free(idat);
    return raw;
}

/* The scanlines of raw are filter 0 followed by the given pixels. */
static void check_rows(const unsigned char *raw, const unsigned char *pixels, size_t stride,
                       size_t height)
{
    for (size_t y = 0; y < height; y++) {
        ck_assert_uint_eq(raw[y * (stride + 1)], 0);
        ck_assert(memcmp(raw + y * (stride + 1) + 1, pixels + y * stride, stride) == 0);
    }
}

START_TEST(encoded_gray_and_rgb_images_read_back_exactly)
{
    for (int ch = 1; ch <= 3; ch += 2) {
        const size_t W = 13, H = 7, stride = W * (size_t)ch;
        unsigned char px[13 * 7 * 3], *png = NULL;
        for (size_t k = 0; k < H * stride; k++)
            px[k] = (unsigned char)(k * 37 % 256);
        size_t len = 0;
        char err[ERRLEN];
        ck_assert_int_eq(dode_png_encode(px, W, H, ch, &png, &len, err, sizeof err), DODE_OK);
        uint32_t w = 0, h = 0;
        int depth = 0, ctype = -1;
        unsigned char *raw = decode(png, len, &w, &h, &depth, &ctype, (stride + 1) * H);
        ck_assert(w == W && h == H && depth == 8 && ctype == (ch == 1 ? 0 : 2));
        check_rows(raw, px, stride, H);
        free(raw);
        free(png);
    }
}
END_TEST

/* 2 x 3 tiles of 2 x 2 with pad 1: a 10 x 7 image; value v in [-1, 1] to
 * round(255 (v + 1) / 2), clipped; pad pixels at pad_level. */
START_TEST(grid_places_tiles_and_maps_values_to_levels)
{
    char dir[] = "/tmp/check_png.XXXXXX", path[64], err[ERRLEN];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/grid.png", dir);
    double tiles[6][4];
    for (int k = 0; k < 6; k++)
        for (int p = 0; p < 4; p++)
            tiles[k][p] = -1.5 + 0.2 * (4 * k + p);     /* -1.5 .. 3.1: both clips */
    ck_assert_int_eq(dode_png_write_grid(path, &tiles[0][0], 2, 3, 2, 2, -1.0, 1.0, 1, 128,
                                         err, sizeof err), DODE_OK);
    FILE *f = fopen(path, "rb");
    unsigned char buf[4096];
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint32_t w, h;
    int depth, ctype;
    unsigned char *raw = decode(buf, len, &w, &h, &depth, &ctype, 7 * (10 + 1));
    ck_assert(w == 10 && h == 7 && ctype == 0);
    for (size_t y = 0; y < 7; y++)
        for (size_t x = 0; x < 10; x++) {
            const unsigned char got = raw[y * 11 + 1 + x];
            if (y % 3 == 0 || x % 3 == 0) {
                ck_assert_uint_eq(got, 128);
                continue;
            }
            const double v = tiles[(y / 3) * 3 + x / 3][(y % 3 - 1) * 2 + x % 3 - 1];
            const double u = fmin(255, fmax(0, 255 * (v + 1) / 2));
            ck_assert_uint_eq(got, (unsigned)lround(u));
        }
    free(raw);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* 1 x 2 tiles of 2 x 2, pad 1, scale 4: each value a 4 x 4 block; a dot of the font is
 * 2 pixels, so the top margin is 7 x 2 + 2 x 8 = 30 and the left one 2 characters x 12
 * + 2 x 8 = 40 pixels: a 40 + 7 x 4 by 30 + 4 x 4 image. Ink (0) only where a label is. */
START_TEST(labelled_grid_scales_tiles_and_writes_labels_in_the_margins)
{
    char dir[] = "/tmp/check_png.XXXXXX", path[64], err[ERRLEN];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/grid.png", dir);
    const double tiles[2][4] = { { -1, -0.5, 0, 0.5 }, { 1, 0.25, -0.25, -0.75 } };
    const char *rows[1] = { "ab" }, *cols[2] = { "1", " " };
    const dode_png_grid_style st = { .lo = -1, .hi = 1, .pad = 1, .pad_level = 128,
                                     .scale = 4, .row_labels = rows, .col_labels = cols };
    ck_assert_int_eq(dode_png_write_grid_labelled(path, &tiles[0][0], 1, 2, 2, 2, &st, err,
                                                  sizeof err), DODE_OK);
    FILE *f = fopen(path, "rb");
    unsigned char buf[8192];
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    enum { W = 68, H = 46, LEFT = 40, TOP = 30 };
    uint32_t w, h;
    int depth, ctype;
    unsigned char *raw = decode(buf, len, &w, &h, &depth, &ctype, H * (W + 1));
    ck_assert(w == W && h == H && ctype == 0);
#define PX(x, y) raw[(size_t)(y) * (W + 1) + 1 + (size_t)(x)]
    size_t ink_row = 0, ink_col1 = 0, ink_col2 = 0, ink_corner = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            const int gx = (x - LEFT) / 4, gy = (y - TOP) / 4;     /* grid cell, pad 1 */
            if (x >= LEFT && y >= TOP) {
                if (gx % 3 == 0 || gy % 3 == 0) {
                    ck_assert_uint_eq(PX(x, y), 128);
                    continue;
                }
                const double v = tiles[gx / 3][(gy - 1) * 2 + gx % 3 - 1];
                ck_assert_uint_eq(PX(x, y), (unsigned)lround(255 * (v + 1) / 2));
                continue;
            }
            const int ink = PX(x, y) == 0;
            ck_assert(ink || PX(x, y) == 255);                  /* black on white */
            if (x < LEFT && y >= TOP)
                ink_row += ink;
            else if (x >= LEFT && x < LEFT + 12 * 4)
                ink_col1 += ink;
            else if (x >= LEFT + 12 * 4)
                ink_col2 += ink;
            else
                ink_corner += ink;
        }
#undef PX
    ck_assert_uint_gt(ink_row, 0);
    ck_assert_uint_gt(ink_col1, 0);
    ck_assert_uint_eq(ink_col2, 0);         /* " " has no ink */
    ck_assert_uint_eq(ink_corner, 0);
    free(raw);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Every glyph is its own: no two drawn alike, none the hollow box of a missing one. */
START_TEST(font_glyphs_are_distinct_and_known)
{
    static const char set[] = " -.,:=()/_+#%^0123456789abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const size_t n = sizeof set - 1;
    unsigned bits[sizeof set], box = 0;
    for (size_t k = 0; k <= n; k++) {
        const char c = k < n ? set[k] : '\x01';          /* last: a character it lacks */
        unsigned b = 0;
        for (int r = 0; r < FONT5X7_H; r++)
            for (int q = 0; q < FONT5X7_W; q++)
                b = b << 1 | (unsigned)font5x7_ink(c, r, q);
        if (k < n)
            bits[k] = b;
        else
            box = b;
    }
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(bits[i] != box, "'%c' is the missing-glyph box", set[i]);
        for (size_t j = i + 1; j < n; j++)
            ck_assert_msg(bits[i] != bits[j], "'%c' and '%c' are drawn alike", set[i], set[j]);
    }
}
END_TEST

START_TEST(refused_writes_leave_no_file)
{
    char dir[] = "/tmp/check_png.XXXXXX", path[64], err[ERRLEN] = "";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    const unsigned char px[4] = { 1, 2, 3, 4 };
    const double tile[4] = { 0, 0, 0, 0 };
    ck_assert_int_eq(dode_png_write("/nonexistent/dir/x.png", px, 2, 2, 1, err, sizeof err),
                     DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/x.png"));
    snprintf(path, sizeof path, "%s/x.png", dir);
    ck_assert_int_eq(dode_png_write(path, px, 2, 2, 2, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "2 channels"));
    ck_assert_int_eq(dode_png_write(path, px, 0, 2, 1, err, sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "0 x 2"));
    ck_assert_int_eq(dode_png_write_grid(path, tile, 1, 1, 2, 2, 1.0, 1.0, 0, 0, err,
                                         sizeof err), DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "x.png"));
    for (size_t scale = 0; scale <= 17; scale += 17) {       /* 1 .. 16 only */
        const dode_png_grid_style st = { .lo = 0, .hi = 1, .scale = scale };
        ck_assert_int_eq(dode_png_write_grid_labelled(path, tile, 1, 1, 2, 2, &st, err,
                                                      sizeof err), DODE_EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "scale"));
    }
    ck_assert_int_eq(test_count_visible(dir), 0);
    rmdir(dir);
}
END_TEST

static Suite *png_suite(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, encoded_gray_and_rgb_images_read_back_exactly);
    tcase_add_test(tc, grid_places_tiles_and_maps_values_to_levels);
    tcase_add_test(tc, labelled_grid_scales_tiles_and_writes_labels_in_the_margins);
    tcase_add_test(tc, font_glyphs_are_distinct_and_known);
    tcase_add_test(tc, refused_writes_leave_no_file);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(png_suite)
