/* check_safetensors.c - the .safetensors reader and writer (safetensors.h) and the MLP's
 * loader on top of it (mlp.h): round trips (F64 bit exact, F32 rounded), a file laid out
 * byte by byte as PyTorch's safetensors writes it, and every malformed file refused with
 * its code, a message naming the problem, and the output left untouched. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "diffode/mlp.h"
#include "diffode/safetensors.h"

#define SENTINEL ((dode_safetensors *)0x5eed)

/* An image: 8-byte little-endian header length hlen, the JSON, then dlen data bytes. */
static unsigned char *image_n(uint64_t hlen, const char *json, const void *data, size_t dlen,
                              size_t *len)
{
    const size_t jlen = strlen(json);
    *len = 8 + jlen + dlen;
    unsigned char *buf = malloc(*len);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, json, jlen);
    if (dlen > 0)
        memcpy(buf + 8 + jlen, data, dlen);
    return buf;
}

static unsigned char *image(const char *json, const void *data, size_t dlen, size_t *len)
{
    return image_n(strlen(json), json, data, dlen, len);
}

/* Three tensors (a scalar, an empty one, a 2x3x2 block of awkward values) and metadata. */
static void sample_tensors(dode_tensor t[3], double *block)
{
    static double scalar = -0.0;
    const double vals[12] = { 1.0 / 3.0, -2.5e-310, 1e300, -7.0, 3.14159265358979, 0.1, 1e-30, 65504.0,
                              -1.0 / 7.0, 2.0, 12345.678, INFINITY };
    memcpy(block, vals, sizeof vals);
    t[0] = (dode_tensor){ .name = "scalar", .ndim = 0, .size = 1, .data = &scalar };
    t[1] = (dode_tensor){ .name = "empty", .ndim = 2, .shape = { 4, 0 }, .size = 0,
                          .data = NULL };
    t[2] = (dode_tensor){ .name = "block.weight", .ndim = 3, .shape = { 2, 3, 2 }, .size = 12,
                          .data = block };
}

START_TEST(f64_round_trip_is_bit_exact)
{
    dode_tensor t[3];
    double block[12];
    sample_tensors(t, block);
    char *meta[] = { "format", "pt", "note", "a \"quoted\" value" };
    const dode_safetensors st = { .count = 3, .tensors = t, .nmeta = 2, .meta = meta };
    char err[ERRLEN], *path = test_tmp_path("check_safetensors", "t.safetensors");
    ck_assert_int_eq(dode_safetensors_write(path, &st, DODE_DTYPE_F64, err, sizeof err), DODE_OK);
    dode_safetensors *r = NULL;
    ck_assert_int_eq(dode_safetensors_read(path, &r, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(r->count, 3);
    for (size_t i = 0; i < 3; i++) {
        const dode_tensor *g = dode_safetensors_find(r, t[i].name);
        ck_assert_ptr_nonnull(g);
        ck_assert_int_eq(g->dtype, DODE_DTYPE_F64);
        ck_assert_uint_eq(g->ndim, t[i].ndim);
        ck_assert_uint_eq(g->size, t[i].size);
        for (size_t k = 0; k < t[i].ndim; k++)
            ck_assert_uint_eq(g->shape[k], t[i].shape[k]);
        if (t[i].size > 0)
            ck_assert(memcmp(g->data, t[i].data, t[i].size * sizeof(double)) == 0);
    }
    ck_assert_str_eq(dode_safetensors_meta(r, "note"), "a \"quoted\" value");
    ck_assert_str_eq(dode_safetensors_meta(r, "format"), "pt");
    ck_assert_ptr_null(dode_safetensors_meta(r, "absent"));
    dode_safetensors_free(r);
    test_rm_path(path);
}
END_TEST

START_TEST(f32_round_trip_rounds_each_value_to_float)
{
    dode_tensor t[3];
    double block[12];
    sample_tensors(t, block);
    block[2] = 1e30;                        /* 1e300 does not fit in F32 */
    const dode_safetensors st = { .count = 3, .tensors = t };
    char err[ERRLEN], *path = test_tmp_path("check_safetensors", "t.safetensors");
    ck_assert_int_eq(dode_safetensors_write(path, &st, DODE_DTYPE_F32, err, sizeof err), DODE_OK);
    dode_safetensors *r = NULL;
    ck_assert_int_eq(dode_safetensors_read(path, &r, err, sizeof err), DODE_OK);
    const dode_tensor *g = dode_safetensors_find(r, "block.weight");
    ck_assert_int_eq(g->dtype, DODE_DTYPE_F32);
    for (size_t k = 0; k < 12; k++) {
        const double want = (double)(float)block[k];
        ck_assert(memcmp(&g->data[k], &want, sizeof want) == 0);
    }
    ck_assert_uint_eq(r->nmeta, 0);
    dode_safetensors_free(r);
    test_rm_path(path);
}
END_TEST

/* The layout safetensors.torch.save_file produces: tensors packed in the data buffer,
 * header padded with spaces, offsets relative to the buffer, F32 little-endian. */
START_TEST(reads_a_file_laid_out_by_hand_as_pytorch_writes_it)
{
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[8,16]},\"a\":{\"dtype\":\"F64\",\"shape\":[1,1],"
                       "\"data_offsets\":[16,24]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
                       "\"data_offsets\":[0,8]}}     ";
    const unsigned char data[24] = { 0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0,     /* 1.5f, -2.0f */
                                     0, 0, 0x80, 0x3e, 0, 0, 0x80, 0x7f,  /* 0.25f, inf */
                                     0, 0, 0, 0, 0, 0, 0xf0, 0xbf };      /* -1.0 */
    size_t len;
    unsigned char *buf = image(json, data, sizeof data, &len);
    dode_safetensors *r = NULL;
    char err[ERRLEN];
    ck_assert_int_eq(dode_safetensors_parse(buf, len, "hand", &r, err, sizeof err), DODE_OK);
    ck_assert_uint_eq(r->count, 3);
    const dode_tensor *w = dode_safetensors_find(r, "w"), *b = dode_safetensors_find(r, "b"),
                      *a = dode_safetensors_find(r, "a");
    ck_assert(w->data[0] == 1.5 && w->data[1] == -2.0);
    ck_assert(b->data[0] == 0.25 && isinf(b->data[1]));
    ck_assert(a->data[0] == -1.0 && a->ndim == 2);
    dode_safetensors_free(r);
    free(buf);
}
END_TEST

START_TEST(written_header_is_padded_to_eight_bytes)
{
    double v[3] = { 1, 2, 3 };
    dode_tensor t = { .name = "x", .ndim = 1, .shape = { 3 }, .size = 3, .data = v };
    const dode_safetensors st = { .count = 1, .tensors = &t };
    char err[ERRLEN], *path = test_tmp_path("check_safetensors", "t.safetensors");
    ck_assert_int_eq(dode_safetensors_write(path, &st, DODE_DTYPE_F64, err, sizeof err), DODE_OK);
    FILE *f = fopen(path, "rb");
    unsigned char head[9];
    ck_assert_uint_eq(fread(head, 1, 9, f), 9);
    fclose(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | head[i];
    struct stat sb;
    stat(path, &sb);
    ck_assert_uint_eq(n % 8, 0);
    ck_assert_int_eq(head[8], '{');
    ck_assert_uint_eq((uint64_t)sb.st_size, 8 + n + 3 * 8);
    test_rm_path(path);
}
END_TEST

/* Each malformed image: the code, a word the message must contain. */
static void expect_parse_fail(const unsigned char *buf, size_t len, int code, const char *needle)
{
    dode_safetensors *out = SENTINEL;
    char err[ERRLEN] = "";
    ck_assert_int_eq(dode_safetensors_parse(buf, len, "bad.safetensors", &out, err, sizeof err),
                     code);
    ck_assert_msg(strstr(err, needle) != NULL, "expected '%s' in: %s", needle, err);
    ck_assert_msg(strstr(err, "bad.safetensors") != NULL, "no file name in: %s", err);
    ck_assert_ptr_eq(out, SENTINEL);
}

static void expect_json_fail(const char *json, size_t dlen, const char *needle)
{
    unsigned char data[64] = { 0 };
    size_t len;
    unsigned char *buf = image(json, data, dlen, &len);
    expect_parse_fail(buf, len, DODE_EFORMAT, needle);
    free(buf);
}

START_TEST(header_length_problems_are_refused)
{
    size_t len;
    const char *json = "{}";
    unsigned char *buf = image_n(2, json, NULL, 0, &len);
    expect_parse_fail(buf, 5, DODE_EFORMAT, "too short");
    free(buf);
    buf = image_n(64, json, NULL, 0, &len);                      /* beyond the file */
    expect_parse_fail(buf, len, DODE_EFORMAT, "runs past the end");
    free(buf);
    buf = image_n((uint64_t)1 << 40, json, NULL, 0, &len);       /* beyond the cap */
    expect_parse_fail(buf, len, DODE_EFORMAT, "exceeds the limit");
    free(buf);
}
END_TEST

START_TEST(bad_json_is_refused)
{
    expect_json_fail("{\"a\": {\"dtype\": \"F32\",, }", 0, "not valid JSON");
    expect_json_fail("[1, 2]", 0, "does not start with '{'");
    expect_json_fail("{} x", 0, "after its JSON object");
    expect_json_fail("{\"a\": 3}", 0, "not an object");
}
END_TEST

START_TEST(unknown_dtype_is_named)
{
    expect_json_fail("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
                     "unsupported dtype \"BF16\"");
    expect_json_fail("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "\"dtype\" is missing");
}
END_TEST

START_TEST(bad_shapes_are_refused)
{
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
                     "\"shape\" is missing or not an array");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,8]}}", 8,
                     "shape entry 1");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8,
                     "shape entry 0");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                     "\"data_offsets\":[0,4]}}", 4, "9 dimensions");
}
END_TEST

START_TEST(offsets_out_of_range_are_refused)
{
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
                     "out of range of the 4-byte data buffer");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
                     "data_offsets [8, 4] out of range");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8,
                     "\"data_offsets\" is missing or not two");
}
END_TEST

START_TEST(shape_size_mismatch_is_refused)
{
    expect_json_fail("{\"a\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,40]}}", 48,
                     "shape needs 6 F64 values but data_offsets span 40 bytes");
}
END_TEST

START_TEST(duplicates_and_bad_metadata_are_refused)
{
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                     "\"a\" appears twice");
    expect_json_fail("{\"__metadata__\":[1]}", 0, "\"__metadata__\" is not an object");
    expect_json_fail("{\"__metadata__\":{\"dim\":2}}", 0, "entry \"dim\" is not a string");
}
END_TEST

/* Issue 18 item 7: the format requires the tensors to cover the data buffer exactly
 * (safetensors' validate()); overlapping ranges, every tensor at offset 0, a gap, and
 * bytes after the last tensor were all accepted before. */
START_TEST(overlaps_gaps_and_trailing_bytes_are_refused)
{
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                     "tensors \"a\" and \"b\" overlap: bytes [0, 8) and [4, 12)");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                     "overlap");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                     "bytes [4, 8) of the data buffer belong to no tensor");
    expect_json_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9,
                     "5 bytes after the last tensor's data");
    expect_json_fail("{\"__metadata__\":{\"k\":\"v\"}}", 3, "3 bytes after the last");
    /* in any order in the header, the exact cover is fine */
    unsigned char data[12] = { 0 };
    size_t len;
    unsigned char *buf = image("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
                               "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                               data, sizeof data, &len);
    dode_safetensors *st = NULL;
    char err[ERRLEN];
    ck_assert_msg(dode_safetensors_parse(buf, len, "ok", &st, err, sizeof err) == DODE_OK,
                  "%s", err);
    ck_assert_uint_eq(st->count, 2);
    dode_safetensors_free(st);
    free(buf);
}
END_TEST

START_TEST(missing_file_is_an_io_error)
{
    dode_safetensors *out = SENTINEL;
    char err[ERRLEN] = "";
    ck_assert_int_eq(dode_safetensors_read("/nonexistent/w.safetensors", &out, err, sizeof err),
                     DODE_EIO);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/w.safetensors"));
    ck_assert_ptr_eq(out, SENTINEL);
}
END_TEST

START_TEST(writer_refuses_bad_tensors_and_leaves_no_file)
{
    double v[2] = { 1e300, 1 };
    dode_tensor t[2] = {
        { .name = "a", .ndim = 1, .shape = { 2 }, .size = 2, .data = v },
        { .name = "a", .ndim = 1, .shape = { 2 }, .size = 2, .data = v },
    };
    dode_safetensors st = { .count = 2, .tensors = t };
    char err[ERRLEN], *path = test_tmp_path("check_safetensors", "t.safetensors");
    ck_assert_int_eq(dode_safetensors_write(path, &st, DODE_DTYPE_F64, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"a\" appears twice"));
    st.count = 1;
    ck_assert_int_eq(dode_safetensors_write(path, &st, DODE_DTYPE_F32, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not fit in F32"));
    t[0].size = 3;
    ck_assert_int_eq(dode_safetensors_write(path, &st, DODE_DTYPE_F64, err, sizeof err),
                     DODE_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "does not match its shape"));
    ck_assert_int_eq(access(path, F_OK), -1);
    test_rm_path(path);
}
END_TEST

START_TEST(expect_names_missing_tensor_and_both_shapes)
{
    double v[6] = { 0 };
    dode_tensor t = { .name = "w", .ndim = 2, .shape = { 2, 3 }, .size = 6, .data = v };
    const dode_safetensors st = { .count = 1, .tensors = &t };
    const dode_tensor *out = (const dode_tensor *)SENTINEL;
    char err[ERRLEN];
    const size_t shape[2] = { 3, 2 };
    ck_assert_int_eq(dode_safetensors_expect(&st, "v", 2, shape, &out, err, sizeof err),
                     DODE_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "\"v\" is missing"));
    ck_assert_int_eq(dode_safetensors_expect(&st, "w", 2, shape, &out, err, sizeof err),
                     DODE_EFORMAT);
    ck_assert_ptr_nonnull(strstr(err, "shape [2, 3], expected [3, 2]"));
    ck_assert_ptr_eq(out, (const dode_tensor *)SENTINEL);
}
END_TEST

/* --- the MLP loader on top: architecture from __metadata__, tensors checked against it */

/* A valid mlp image (dim 2, temb 2, widths 3) as tensors + metadata we can spoil. */
typedef struct {
    double w0[3 * 4], b0[3], w2[2 * 3], b2[2];
    dode_tensor t[5];
    char *meta[12];
    dode_safetensors st;
} mlp_file;

static void mlp_file_init(mlp_file *f)
{
    for (size_t k = 0; k < 12; k++)
        f->w0[k] = 0.1 * (double)k;
    f->t[0] = (dode_tensor){ .name = "layers.0.weight", .ndim = 2, .shape = { 3, 4 },
                             .size = 12, .data = f->w0 };
    f->t[1] = (dode_tensor){ .name = "layers.0.bias", .ndim = 1, .shape = { 3 }, .size = 3,
                             .data = f->b0 };
    f->t[2] = (dode_tensor){ .name = "layers.2.weight", .ndim = 2, .shape = { 2, 3 },
                             .size = 6, .data = f->w2 };
    f->t[3] = (dode_tensor){ .name = "layers.2.bias", .ndim = 1, .shape = { 2 }, .size = 2,
                             .data = f->b2 };
    f->t[4] = (dode_tensor){ .name = "extra", .ndim = 1, .shape = { 2 }, .size = 2,
                             .data = f->b2 };
    char *meta[12] = { "diffode_arch", "mlp", "dim", "2", "temb", "2", "widths", "3",
                       "schedule", "ddpm-linear", "prediction", "eps" };
    memcpy(f->meta, meta, sizeof meta);
    f->st = (dode_safetensors){ .count = 4, .tensors = f->t, .nmeta = 6, .meta = f->meta };
}

/* A constructor: NULL and the message (its code is not returned). */
static void expect_mlp_fail(const mlp_file *f, const char *needle)
{
    char err[ERRLEN] = "";
    ck_assert_ptr_null(dode_mlp_from_safetensors(&f->st, "net.safetensors", err, sizeof err));
    ck_assert_msg(strstr(err, needle) != NULL, "expected '%s' in: %s", needle, err);
    ck_assert_msg(strstr(err, "net.safetensors") != NULL, "no file name in: %s", err);
}

START_TEST(mlp_loads_a_valid_file_and_reads_its_weights)
{
    mlp_file f;
    memset(&f, 0, sizeof f);
    mlp_file_init(&f);
    char err[ERRLEN];
    dode_mlp *m = dode_mlp_from_safetensors(&f.st, "net.safetensors", err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    ck_assert_uint_eq(dode_mlp_nparams(m), 12 + 3 + 6 + 2);
    ck_assert(memcmp(dode_mlp_params(m), f.w0, sizeof f.w0) == 0);
    dode_mlp_free(m);
}
END_TEST

START_TEST(mlp_metadata_problems_are_named)
{
    mlp_file f;
    memset(&f, 0, sizeof f);
    mlp_file_init(&f);
    f.st.nmeta = 0;
    expect_mlp_fail(&f, "no __metadata__");
    const struct { size_t slot; char *value; const char *needle; } spoil[] = {
        { 1, "resnet", "\"diffode_arch\" is \"resnet\"" },
        { 3, "2x", "\"dim\" is \"2x\"" },
        { 5, "0", "\"temb\" is \"0\"" },
        { 5, "3", "temb 3 must be even" },
        { 7, "3,,4", "\"widths\"" },
        { 9, "ddpm-quadratic", "\"schedule\" is \"ddpm-quadratic\"" },
        { 11, "score", "\"prediction\" is \"score\"" },
    };
    for (size_t k = 0; k < sizeof spoil / sizeof spoil[0]; k++) {
        mlp_file_init(&f);
        f.meta[spoil[k].slot] = spoil[k].value;
        expect_mlp_fail(&f, spoil[k].needle);
    }
    mlp_file_init(&f);
    f.meta[2] = "dims";                                   /* the key "dim" is gone */
    expect_mlp_fail(&f, "has no \"dim\"");
}
END_TEST

START_TEST(mlp_tensor_problems_are_named)
{
    mlp_file f;
    memset(&f, 0, sizeof f);
    mlp_file_init(&f);
    f.t[2].name = "layers.1.weight";                      /* a ModuleList, not Sequential */
    expect_mlp_fail(&f, "tensor \"layers.2.weight\" is missing");
    mlp_file_init(&f);
    f.t[0].shape[0] = 4;
    f.t[0].shape[1] = 3;
    expect_mlp_fail(&f, "\"layers.0.weight\" has shape [4, 3], expected [3, 4]");
    mlp_file_init(&f);
    f.meta[7] = "5";
    expect_mlp_fail(&f, "expected [5, 4]");
    mlp_file_init(&f);
    f.st.count = 5;
    expect_mlp_fail(&f, "unexpected tensor \"extra\"");
    mlp_file_init(&f);
    f.b0[1] = NAN;
    expect_mlp_fail(&f, "\"layers.0.bias\" has a non-finite value at index 1");
}
END_TEST

START_TEST(mlp_read_passes_on_file_errors)
{
    char err[ERRLEN], *path = test_tmp_path("check_safetensors", "net.safetensors");
    FILE *f = fopen(path, "wb");
    fputs("garbage!!", f);
    fclose(f);
    ck_assert_ptr_null(dode_mlp_read(path, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "header length"));
    ck_assert_ptr_null(dode_mlp_load(path, err, sizeof err));
    test_rm_path(path);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, f64_round_trip_is_bit_exact);
    tcase_add_test(tc, f32_round_trip_rounds_each_value_to_float);
    tcase_add_test(tc, reads_a_file_laid_out_by_hand_as_pytorch_writes_it);
    tcase_add_test(tc, written_header_is_padded_to_eight_bytes);
    tcase_add_test(tc, header_length_problems_are_refused);
    tcase_add_test(tc, bad_json_is_refused);
    tcase_add_test(tc, unknown_dtype_is_named);
    tcase_add_test(tc, bad_shapes_are_refused);
    tcase_add_test(tc, offsets_out_of_range_are_refused);
    tcase_add_test(tc, shape_size_mismatch_is_refused);
    tcase_add_test(tc, duplicates_and_bad_metadata_are_refused);
    tcase_add_test(tc, overlaps_gaps_and_trailing_bytes_are_refused);
    tcase_add_test(tc, missing_file_is_an_io_error);
    tcase_add_test(tc, writer_refuses_bad_tensors_and_leaves_no_file);
    tcase_add_test(tc, expect_names_missing_tensor_and_both_shapes);
    tcase_add_test(tc, mlp_loads_a_valid_file_and_reads_its_weights);
    tcase_add_test(tc, mlp_metadata_problems_are_named);
    tcase_add_test(tc, mlp_tensor_problems_are_named);
    tcase_add_test(tc, mlp_read_passes_on_file_errors);
    suite_add_tcase(s, tc);
    return s;
}

DODE_TEST_MAIN(safetensors_suite)
