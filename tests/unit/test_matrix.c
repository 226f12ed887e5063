// SPDX-License-Identifier: LGPL-2.1-or-later
/* libapmatrix unit tests: context, matrices, text forms, ioctl payload, APQN sets. */
#include <check.h>
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apmatrix.h"
#include "tutil.h"

static struct apmatrix_ctx *ctx;
static struct apmatrix_matrix *m;

static void setup(void)
{
	unsetenv("APMATRIX_SYSFS_ROOT");
	unsetenv("APMATRIX_LOCK_FILE");
	ctx = apmatrix_ctx_new();
	m = apmatrix_matrix_new();
	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_nonnull(m);
}

static void teardown(void)
{
	apmatrix_matrix_free(m);
	apmatrix_ctx_free(ctx);
}

static const char *fmt_apqns(const struct apmatrix_matrix *x)
{
	static char buf[4096];

	ck_assert_int_lt(apmatrix_matrix_format_apqns(x, buf, sizeof(buf)), sizeof(buf));
	return buf;
}

static const char *fmt_ids(const struct apmatrix_matrix *x, enum apmatrix_part p)
{
	static char buf[4096];

	ck_assert_int_lt(apmatrix_matrix_format_ids(x, p, buf, sizeof(buf)), sizeof(buf));
	return buf;
}

static const char *fmt_mask(const struct apmatrix_matrix *x, enum apmatrix_part p)
{
	static char buf[80];

	ck_assert_int_eq(apmatrix_matrix_format_mask(x, p, buf, sizeof(buf)), 66);
	return buf;
}

/* ------------------------------------------------------------------------ */

START_TEST(ctx_defaults)
{
	ck_assert_str_eq(apmatrix_version(), "0.2.1");
	ck_assert_str_eq(apmatrix_ctx_get_sysfs_root(ctx), "/sys");
	ck_assert_str_eq(apmatrix_ctx_get_lock_file(ctx), "/run/lock/s390apconfig.lock");
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), "");
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, "/tmp/x///"), 0);
	ck_assert_str_eq(apmatrix_ctx_get_sysfs_root(ctx), "/tmp/x");
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, "/"), 0);
	ck_assert_str_eq(apmatrix_ctx_get_sysfs_root(ctx), "/");
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, ""), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the sysfs root must be a directory name, not empty");
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(ctx, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, ""), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "the lock file must be a file name, not empty");
	ck_assert_int_eq(apmatrix_ctx_set_lock_file(ctx, "/tmp/l"), 0);
	ck_assert_str_eq(apmatrix_ctx_get_lock_file(ctx), "/tmp/l");
	ck_assert_int_eq(apmatrix_ctx_set_sysfs_root(NULL, "/x"), -EINVAL);
	ck_assert_ptr_null(apmatrix_ctx_get_sysfs_root(NULL));
	ck_assert_str_eq(apmatrix_ctx_last_error(NULL), "");
}
END_TEST

START_TEST(ctx_env)
{
	struct apmatrix_ctx *c;

	setenv("APMATRIX_SYSFS_ROOT", "/tmp/fake/sys/", 1);
	setenv("APMATRIX_LOCK_FILE", "/tmp/fake/lock", 1);
	c = apmatrix_ctx_new();
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(apmatrix_ctx_get_sysfs_root(c), "/tmp/fake/sys");
	ck_assert_str_eq(apmatrix_ctx_get_lock_file(c), "/tmp/fake/lock");
	apmatrix_ctx_free(c);
	setenv("APMATRIX_SYSFS_ROOT", "", 1);
	c = apmatrix_ctx_new();
	ck_assert_str_eq(apmatrix_ctx_get_sysfs_root(c), "/sys");
	apmatrix_ctx_free(c);
	apmatrix_ctx_free(NULL);
}
END_TEST

START_TEST(matrix_basics)
{
	struct apmatrix_matrix *d;

	ck_assert(apmatrix_matrix_is_empty(m));
	ck_assert_int_eq(apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 5, true), 0);
	ck_assert_int_eq(apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 255, true), 0);
	ck_assert_int_eq(apmatrix_matrix_set(m, APMATRIX_DOMAINS, 4, true), 0);
	ck_assert_int_eq(apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 0, true), 0);
	ck_assert_int_eq(apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 256, true), -ERANGE);
	ck_assert_int_eq(apmatrix_matrix_set(m, 3, 1, true), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_set(m, (enum apmatrix_part)-1, 1, true), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_set(NULL, APMATRIX_ADAPTERS, 1, true), -EINVAL);
	ck_assert(!apmatrix_matrix_is_empty(m));
	ck_assert(apmatrix_matrix_test(m, APMATRIX_ADAPTERS, 5));
	ck_assert(!apmatrix_matrix_test(m, APMATRIX_ADAPTERS, 4));
	ck_assert(!apmatrix_matrix_test(m, APMATRIX_ADAPTERS, 256));
	ck_assert(!apmatrix_matrix_test(m, 7, 5));
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_ADAPTERS), 2);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_DOMAINS), 1);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_CONTROL_DOMAINS), 1);
	ck_assert_uint_eq(apmatrix_matrix_count(m, 9), 0);
	ck_assert(apmatrix_matrix_has_apqn(m, 5, 4));
	ck_assert(apmatrix_matrix_has_apqn(m, 255, 4));
	ck_assert(!apmatrix_matrix_has_apqn(m, 5, 0));
	ck_assert(!apmatrix_matrix_has_apqn(m, 4, 4));

	d = apmatrix_matrix_dup(m);
	ck_assert(apmatrix_matrix_equal(m, d));
	ck_assert_int_eq(apmatrix_matrix_set(d, APMATRIX_CONTROL_DOMAINS, 0, false), 0);
	ck_assert(!apmatrix_matrix_equal(m, d));
	apmatrix_matrix_clear(d);
	ck_assert(apmatrix_matrix_is_empty(d));
	apmatrix_matrix_free(d);
	ck_assert_ptr_null(apmatrix_matrix_dup(NULL));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* the bit order against mask texts computed independently */
START_TEST(mask_bit_order)
{
	char want[68];
	static const struct {
		enum apmatrix_part part;
		unsigned int id;
		const char *mask;
	} t[] = {
		{ APMATRIX_ADAPTERS, 0,
		  "0x8000000000000000000000000000000000000000000000000000000000000000" },
		{ APMATRIX_ADAPTERS, 5,
		  "0x0400000000000000000000000000000000000000000000000000000000000000" },
		{ APMATRIX_DOMAINS, 255,
		  "0x0000000000000000000000000000000000000000000000000000000000000001" },
		{ APMATRIX_CONTROL_DOMAINS, 64,
		  "0x0000000000000000800000000000000000000000000000000000000000000000" },
		{ APMATRIX_DOMAINS, 63,
		  "0x0000000000000001000000000000000000000000000000000000000000000000" },
	};

	for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		apmatrix_matrix_clear(m);
		ck_assert_int_eq(apmatrix_matrix_set(m, t[i].part, t[i].id, true), 0);
		ck_assert_str_eq(fmt_mask(m, t[i].part), t[i].mask);
	}
	/* many bits, against the independent nibble builder */
	apmatrix_matrix_clear(m);
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS,
						   "00,01,05,3f-41,80,fe-ff"), 0);
	mask_text("0,1,5,63-65,128,254-255", want);
	want[66] = '\0';
	ck_assert_str_eq(fmt_mask(m, APMATRIX_ADAPTERS), want);
}
END_TEST

static uint64_t word(const unsigned char *buf, size_t off)
{
	uint64_t w;

	memcpy(&w, buf + off, 8);
	return w;
}

START_TEST(kvm_payload)
{
	unsigned char buf[APMATRIX_KVM_MATRIX_SIZE + 8];
	uint32_t u32;

	ck_assert_int_eq(APMATRIX_KVM_MATRIX_SIZE, 136);
	apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 0, true);
	apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 255, true);
	apmatrix_matrix_set(m, APMATRIX_DOMAINS, 64, true);
	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 5, true);
	memset(buf, 0xa5, sizeof(buf));
	ck_assert_int_eq(apmatrix_matrix_to_kvm(m, APMATRIX_SET_VALIDATE_ONLY | APMATRIX_SET_RESET,
						buf, APMATRIX_KVM_MATRIX_SIZE), 0);
	/* host-order words, ID n = bit 63 - n % 64 of word n / 64 */
	ck_assert_uint_eq(word(buf, 0), 1ULL << 63);	/* apm[0]: APID 0 */
	ck_assert_uint_eq(word(buf, 8), 0);
	ck_assert_uint_eq(word(buf, 16), 0);
	ck_assert_uint_eq(word(buf, 24), 1);		/* apm[3]: APID 255 */
	ck_assert_uint_eq(word(buf, 32), 0);		/* aqm[0] */
	ck_assert_uint_eq(word(buf, 40), 1ULL << 63);	/* aqm[1]: APQI 64 */
	ck_assert_uint_eq(word(buf, 64), 1ULL << 58);	/* adm[0]: 5 */
	memcpy(&u32, buf + 96, 4);
	ck_assert_uint_eq(u32, 3);
	for (unsigned int i = 100; i < 136; i++)
		ck_assert_uint_eq(buf[i], 0);
	ck_assert_uint_eq(buf[136], 0xa5);		/* nothing past the struct */
	/* the bytes in memory: what the s390 kernel reads as that __u64 */
	ck_assert_uint_eq(be64toh(word(buf, 0)) == 1ULL << 63 ? 0x80 : 0x00, buf[0]);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	ck_assert_uint_eq(buf[0], 0x80);
	ck_assert_uint_eq(buf[31], 0x01);
	ck_assert_uint_eq(buf[99], 0x03);
#else
	ck_assert_uint_eq(buf[7], 0x80);
	ck_assert_uint_eq(buf[24], 0x01);
	ck_assert_uint_eq(buf[96], 0x03);
#endif

	/* and back; flags are ignored */
	struct apmatrix_matrix *back = apmatrix_matrix_new();

	ck_assert_int_eq(apmatrix_matrix_from_kvm(back, buf, APMATRIX_KVM_MATRIX_SIZE), 0);
	ck_assert(apmatrix_matrix_equal(back, m));
	buf[120] = 1;					/* reserved[5] */
	ck_assert_int_eq(apmatrix_matrix_from_kvm(back, buf, APMATRIX_KVM_MATRIX_SIZE), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_from_kvm(back, buf, 135), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_to_kvm(m, 0, buf, 135), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_to_kvm(m, 0, NULL, 136), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_to_kvm(NULL, 0, buf, 136), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_from_kvm(NULL, buf, 136), -EINVAL);
	apmatrix_matrix_free(back);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* APQN text */

START_TEST(parse_apqns_good)
{
	static const struct {
		const char *text, *adapters, *domains;
	} t[] = {
		{ "05.0004", "05", "0004" },
		{ "05.0004,05.0005", "05", "0004-0005" },
		{ "05-07.0004-0007", "05-07", "0004-0007" },
		{ " 05.0004 ,\t05.0005 \n", "05", "0004-0005" },
		{ "0A.00FF,0a.00fe", "0a", "00fe-00ff" },
		{ "5.4", "05", "0004" },
		{ "ff.00ff", "ff", "00ff" },
		{ "00.0000", "00", "0000" },
		{ "05.0004,06.0004,05.0005,06.0005", "05-06", "0004-0005" },
		{ "05-06.0004,05-06.0007-0008", "05-06", "0004,0007-0008" },
		{ "05.0004,05.0004", "05", "0004" },
		{ "00-ff.0000-00ff", "00-ff", "0000-00ff" },
	};

	for (unsigned int i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		apmatrix_matrix_clear(m);
		apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 9, true);
		apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 0x33, true);
		ck_assert_msg(apmatrix_matrix_parse_apqns(ctx, m, t[i].text, NULL) == 0,
			      "%s: %s", t[i].text, apmatrix_ctx_last_error(ctx));
		ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), t[i].adapters);
		ck_assert_str_eq(fmt_ids(m, APMATRIX_DOMAINS), t[i].domains);
		/* control domains untouched */
		ck_assert_str_eq(fmt_ids(m, APMATRIX_CONTROL_DOMAINS), "0009");
	}
	/* empty text: empty usage part */
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, "", NULL), 0);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_ADAPTERS), 0);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_DOMAINS), 0);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_CONTROL_DOMAINS), 1);
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, " \n", NULL), 0);
	/* no context is fine */
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(NULL, m, "01.0002", NULL), 0);
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(NULL, m, "01.0002,", NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, NULL, "01.0002", NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, NULL, NULL), -EINVAL);
}
END_TEST

static const struct bad {
	const char *text;
	int rc;
	const char *msg;
} bad_apqns[] = {
	{ "5x.0004", -EINVAL, "bad adapter '5x' in '5x.0004'" },
	{ "05.00g4", -EINVAL, "bad domain '00g4' in '05.00g4'" },
	{ "100.0004", -ERANGE, "adapter 100 (0x100) is beyond 0xff in '100.0004'" },
	{ "05.0100", -ERANGE, "domain 0100 (0x100) is beyond 0xff in '05.0100'" },
	{ "05-100.0004", -ERANGE, "adapter 100 (0x100) is beyond 0xff in '05-100.0004'" },
	{ "05.0004-1000", -ERANGE, "domain 1000 (0x1000) is beyond 0xff in '05.0004-1000'" },
	{ "123456789abcdef0123.0004", -ERANGE,
	  "adapter 123456789abcdef0123 is beyond 0xff in '123456789abcdef0123.0004'" },
	{ "07-05.0004", -EINVAL, "range 07-05 is backwards in '07-05.0004'" },
	{ "05.0007-0004", -EINVAL, "range 0007-0004 is backwards in '05.0007-0004'" },
	{ "05.0004,", -EINVAL, "trailing comma in '05.0004,'" },
	{ ",05.0004", -EINVAL, "leading comma in ',05.0004'" },
	{ ",", -EINVAL, "leading comma in ','" },
	{ "05.0004,,05.0005", -EINVAL, "empty item in '05.0004,,05.0005'" },
	{ "05.0004, ,05.0005", -EINVAL, "empty item in '05.0004, ,05.0005'" },
	{ "05", -EINVAL, "'05' is not an APQN (adapter.domain in hex, e.g. 05.0004)" },
	{ "05.0004,06", -EINVAL, "'06' is not an APQN (adapter.domain in hex, e.g. 05.0004)" },
	{ "05-.0004", -EINVAL, "bad adapter '05-' in '05-.0004'" },
	{ "-05.0004", -EINVAL, "bad adapter '-05' in '-05.0004'" },
	{ ".0004", -EINVAL, "bad adapter '' in '.0004'" },
	{ "05.", -EINVAL, "bad domain '' in '05.'" },
	{ "05-06-07.0004", -EINVAL, "bad adapter '05-06-07' in '05-06-07.0004'" },
	{ "0x05.0004", -EINVAL, "bad adapter '0x05' in '0x05.0004'" },
	{ "05.0004.1", -EINVAL, "bad domain '0004.1' in '05.0004.1'" },
	{ "05 .0004", -EINVAL, "bad adapter '05 ' in '05 .0004'" },
	{ "05.0004;05.0005", -EINVAL, "bad domain '0004;05.0005' in '05.0004;05.0005'" },
	{ "05.0004,06.0005", -EINVAL,
	  "APQNs 05.0004,06.0005 are not a full adapters x domains matrix: it would also need 05.0005,06.0004" },
	{ " 05-06.0004, 05.0005\n", -EINVAL,
	  "APQNs 05-06.0004, 05.0005 are not a full adapters x domains matrix: it would also need 06.0005" },
};

START_TEST(parse_apqns_bad)
{
	const struct bad *b = &bad_apqns[_i];
	struct apmatrix_matrix *before;

	apmatrix_matrix_set(m, APMATRIX_ADAPTERS, 1, true);
	apmatrix_matrix_set(m, APMATRIX_DOMAINS, 2, true);
	before = apmatrix_matrix_dup(m);
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, b->text, NULL), b->rc);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), b->msg);
	ck_assert(apmatrix_matrix_equal(m, before));	/* unchanged */
	/* an APQN set refuses the same text the same way, except the cross product */
	if (strstr(b->msg, "full adapters") == NULL) {
		struct apmatrix_apqns *s = apmatrix_apqns_new();

		apmatrix_apqns_add(s, 1, 1);
		ck_assert_int_eq(apmatrix_apqns_parse(ctx, s, b->text), b->rc);
		ck_assert_str_eq(apmatrix_ctx_last_error(ctx), b->msg);
		ck_assert_uint_eq(apmatrix_apqns_count(s), 1);
		apmatrix_apqns_free(s);
	}
	apmatrix_matrix_free(before);
}
END_TEST

/* a message longer than the context keeps is cut with "..." */
START_TEST(long_message)
{
	char text[3000];

	memset(text, 'z', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, text), -EINVAL);
	ck_assert_uint_eq(strlen(apmatrix_ctx_last_error(ctx)), 1023);
	ck_assert(!strncmp(apmatrix_ctx_last_error(ctx), "bad adapter 'zzz", 16));
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx) + 1020, "...");
}
END_TEST

START_TEST(cross_product_missing)
{
	struct apmatrix_apqns *missing = apmatrix_apqns_new();
	char buf[256];

	apmatrix_apqns_add(missing, 0x77, 0x77);	/* replaced, not added to */
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, "05.0004,06.0005", missing),
			 -EINVAL);
	ck_assert_int_eq(apmatrix_apqns_format(missing, buf, sizeof(buf)), 15);
	ck_assert_str_eq(buf, "05.0005,06.0004");
	ck_assert(apmatrix_matrix_is_empty(m));

	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, "01-03.0001-0003,04.0001", missing),
			 -EINVAL);
	apmatrix_apqns_format(missing, buf, sizeof(buf));
	ck_assert_str_eq(buf, "04.0002,04.0003");
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "APQNs 01-03.0001-0003,04.0001 are not a full adapters x domains matrix: it would also need 04.0002,04.0003");

	/* a huge gap: the message is cut with "...", never overflows */
	ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, m, "00-fe.0000,ff.0000-00ff", missing),
			 -EINVAL);
	ck_assert_uint_eq(apmatrix_apqns_count(missing), 255 * 255);
	ck_assert_uint_eq(strlen(apmatrix_ctx_last_error(ctx)) < 1024, 1);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx) + strlen(apmatrix_ctx_last_error(ctx)) - 3,
			 "...");
	apmatrix_apqns_free(missing);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* ID lists and masks */

START_TEST(parse_ids_good)
{
	char mask[68];

	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "05,07-09"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "05,07-09");
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "0x05, 0x07-0X09\n"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "05,07-09");
	/* leading zeros after 0x make no mask: an ID however many there are */
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "0x0000000005"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "05");
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS,
						   "0x000000000000000000000000000000000000000000000000000000000000ff"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "ff");
	/* replaces the part */
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "1"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "01");
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_DOMAINS, "4,ff,0010-0011"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_DOMAINS), "0004,0010-0011,00ff");
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_CONTROL_DOMAINS, "00000005"), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_CONTROL_DOMAINS), "0005");
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "01");	/* other parts untouched */
	/* a mask as /sys/bus/ap prints it, trailing newline and all */
	mask_text("0,5,64,255", mask);
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_DOMAINS, mask), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_DOMAINS), "0000,0005,0040,00ff");
	mask[1] = 'X';
	mask[66] = '\0';
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, mask), 0);
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "00,05,40,ff");
	/* empty: the part is cleared */
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, ""), 0);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_ADAPTERS), 0);
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "0-ff"), 0);
	ck_assert_uint_eq(apmatrix_matrix_count(m, APMATRIX_ADAPTERS), 256);
}
END_TEST

static const struct bad_ids {
	enum apmatrix_part part;
	const char *text;
	int rc;
	const char *msg;
} bad_ids[] = {
	{ APMATRIX_DOMAINS, "05,1x", -EINVAL, "bad domain '1x' in '05,1x'" },
	{ APMATRIX_CONTROL_DOMAINS, "zz", -EINVAL, "bad control domain 'zz' in 'zz'" },
	{ APMATRIX_ADAPTERS, "100", -ERANGE, "adapter 100 (0x100) is beyond 0xff in '100'" },
	{ APMATRIX_ADAPTERS, "0x100", -ERANGE, "adapter 0x100 is beyond 0xff in '0x100'" },
	{ APMATRIX_DOMAINS, "05-0x100", -ERANGE, "domain 0x100 is beyond 0xff in '05-0x100'" },
	{ APMATRIX_ADAPTERS, "09-07", -EINVAL, "range 09-07 is backwards in '09-07'" },
	{ APMATRIX_ADAPTERS, "05,", -EINVAL, "trailing comma in '05,'" },
	{ APMATRIX_ADAPTERS, ",05", -EINVAL, "leading comma in ',05'" },
	{ APMATRIX_ADAPTERS, "05,,06", -EINVAL, "empty item in '05,,06'" },
	{ APMATRIX_ADAPTERS, "0x", -EINVAL, "bad adapter '0x' in '0x'" },
	{ APMATRIX_ADAPTERS, "05.0004", -EINVAL, "bad adapter '05.0004' in '05.0004'" },
	{ APMATRIX_ADAPTERS, "0x800000000000000000000000000000000000000000000000000000000000000",
	  -EINVAL,
	  "bad mask '0x800000000000000000000000000000000000000000000000000000000000000': a mask is 0x and 64 hex digits, this has 63" },
	{ APMATRIX_ADAPTERS, "0x80000000000000000000000000000000000000000000000000000000000000000",
	  -EINVAL,
	  "bad mask '0x80000000000000000000000000000000000000000000000000000000000000000': a mask is 0x and 64 hex digits, this has 65" },
	{ APMATRIX_ADAPTERS, "0x800000000000000000000000000000000000000000000000000000000000000g",
	  -EINVAL,
	  "bad adapter '0x800000000000000000000000000000000000000000000000000000000000000g' in '0x800000000000000000000000000000000000000000000000000000000000000g'" },
};

START_TEST(parse_ids_bad)
{
	const struct bad_ids *b = &bad_ids[_i];
	struct apmatrix_matrix *before;

	apmatrix_matrix_set(m, b->part, 0x42, true);
	before = apmatrix_matrix_dup(m);
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, b->part, b->text), b->rc);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx), b->msg);
	ck_assert(apmatrix_matrix_equal(m, before));
	apmatrix_matrix_free(before);
}
END_TEST

START_TEST(parse_ids_args)
{
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, 3, "05"), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "bad arguments to apmatrix_matrix_parse_ids()");
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, NULL, APMATRIX_ADAPTERS, "05"), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, NULL), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* printers */

START_TEST(format_apqns)
{
	char buf[8];
	struct apmatrix_matrix *x = mat("05-06.0004,05-06.0007-0008");

	ck_assert_str_eq(fmt_apqns(x), "05-06.0004,05-06.0007-0008");
	apmatrix_matrix_free(x);
	x = mat("05.0004,07.0004,07.0005,05.0005,09.0004,09.0005");
	ck_assert_str_eq(fmt_apqns(x), "05.0004-0005,07.0004-0005,09.0004-0005");
	/* snprintf-like */
	ck_assert_int_eq(apmatrix_matrix_format_apqns(x, buf, sizeof(buf)), 38);
	ck_assert_str_eq(buf, "05.0004");
	ck_assert_int_eq(apmatrix_matrix_format_apqns(x, NULL, 0), 38);
	ck_assert_int_eq(apmatrix_matrix_format_apqns(x, NULL, 5), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_format_apqns(NULL, buf, 5), -EINVAL);
	/* adapters without domains: no APQN */
	apmatrix_matrix_clear(x);
	apmatrix_matrix_set(x, APMATRIX_ADAPTERS, 1, true);
	ck_assert_int_eq(apmatrix_matrix_format_apqns(x, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	apmatrix_matrix_free(x);
}
END_TEST

START_TEST(format_ids_mask)
{
	char buf[80];

	ck_assert_int_eq(apmatrix_matrix_format_ids(m, APMATRIX_ADAPTERS, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	apmatrix_matrix_parse_ids(ctx, m, APMATRIX_ADAPTERS, "05,07-09,0b-0c,ff");
	ck_assert_str_eq(fmt_ids(m, APMATRIX_ADAPTERS), "05,07-09,0b-0c,ff");
	apmatrix_matrix_parse_ids(ctx, m, APMATRIX_DOMAINS, "05,07-09");
	ck_assert_str_eq(fmt_ids(m, APMATRIX_DOMAINS), "0005,0007-0009");
	ck_assert_int_eq(apmatrix_matrix_format_ids(m, APMATRIX_DOMAINS, buf, 3), 14);
	ck_assert_str_eq(buf, "00");
	ck_assert_int_eq(apmatrix_matrix_format_ids(m, 3, buf, 3), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_format_mask(m, APMATRIX_ADAPTERS, buf, 10), 66);
	ck_assert_str_eq(buf, "0x05d8000");
	ck_assert_int_eq(apmatrix_matrix_format_mask(m, APMATRIX_ADAPTERS, NULL, 0), 66);
	ck_assert_int_eq(apmatrix_matrix_format_mask(m, 3, buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(apmatrix_matrix_format_mask(NULL, 0, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* random matrices survive every text form */
START_TEST(round_trips)
{
	struct apmatrix_matrix *back = apmatrix_matrix_new();
	static char buf[1 << 20];
	unsigned int seed = 12345;

	/* sparse matrices, and every 15th a dense one (valgrind takes long on those) */
	for (int iter = 0; iter < 150; iter++) {
		apmatrix_matrix_clear(m);
		for (unsigned int p = 0; p < 3; p++) {
			unsigned int n = rand_r(&seed) % (iter % 15 ? 12 : 200);

			for (unsigned int k = 0; k < n; k++)
				apmatrix_matrix_set(m, p, rand_r(&seed) % 256, true);
		}
		/* lszcrypt notation: the usage part only */
		apmatrix_matrix_clear(back);
		ck_assert_int_lt(apmatrix_matrix_format_apqns(m, buf, sizeof(buf)), sizeof(buf));
		ck_assert_int_eq(apmatrix_matrix_parse_apqns(ctx, back, buf, NULL), 0);
		if (apmatrix_matrix_count(m, 0) && apmatrix_matrix_count(m, 1))
			for (unsigned int p = 0; p < 2; p++)
				for (unsigned int id = 0; id < 256; id++)
					if (apmatrix_matrix_test(back, p, id) !=
					    apmatrix_matrix_test(m, p, id))
						ck_abort_msg("iteration %d: part %u id %u", iter, p, id);
		/* ID lists and masks: every part */
		for (unsigned int p = 0; p < 3; p++) {
			apmatrix_matrix_format_ids(m, p, buf, sizeof(buf));
			ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, back, p, buf), 0);
		}
		ck_assert(apmatrix_matrix_equal(back, m));
		apmatrix_matrix_clear(back);
		for (unsigned int p = 0; p < 3; p++) {
			apmatrix_matrix_format_mask(m, p, buf, sizeof(buf));
			ck_assert_int_eq(apmatrix_matrix_parse_ids(ctx, back, p, buf), 0);
		}
		ck_assert(apmatrix_matrix_equal(back, m));
		/* the payload */
		apmatrix_matrix_clear(back);
		ck_assert_int_eq(apmatrix_matrix_to_kvm(m, 0, buf, sizeof(buf)), 0);
		ck_assert_int_eq(apmatrix_matrix_from_kvm(back, buf, sizeof(buf)), 0);
		ck_assert(apmatrix_matrix_equal(back, m));
	}
	apmatrix_matrix_free(back);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* sets of APQNs */

START_TEST(apqns_basics)
{
	struct apmatrix_apqns *s = apmatrix_apqns_new();
	unsigned int a, d;
	char buf[64];

	ck_assert_uint_eq(apmatrix_apqns_count(s), 0);
	ck_assert_int_eq(apmatrix_apqns_get(s, 0, &a, &d), -ENOENT);
	ck_assert_int_eq(apmatrix_apqns_add(s, 6, 1), 0);
	ck_assert_int_eq(apmatrix_apqns_add(s, 5, 0x10), 0);
	ck_assert_int_eq(apmatrix_apqns_add(s, 5, 4), 0);
	ck_assert_int_eq(apmatrix_apqns_add(s, 5, 4), 0);
	ck_assert_int_eq(apmatrix_apqns_add(s, 256, 4), -ERANGE);
	ck_assert_int_eq(apmatrix_apqns_add(s, 4, 256), -ERANGE);
	ck_assert_int_eq(apmatrix_apqns_add(NULL, 4, 4), -EINVAL);
	ck_assert_uint_eq(apmatrix_apqns_count(s), 3);
	ck_assert(apmatrix_apqns_contains(s, 5, 4));
	ck_assert(!apmatrix_apqns_contains(s, 4, 5));
	ck_assert(!apmatrix_apqns_contains(s, 300, 5));
	ck_assert_int_eq(apmatrix_apqns_get(s, 0, &a, &d), 0);
	ck_assert_uint_eq(a, 5);
	ck_assert_uint_eq(d, 4);
	ck_assert_int_eq(apmatrix_apqns_get(s, 2, &a, &d), 0);
	ck_assert_uint_eq(a, 6);
	ck_assert_uint_eq(d, 1);
	ck_assert_int_eq(apmatrix_apqns_get(s, 1, &a, &d), 0);
	ck_assert_uint_eq(a, 5);
	ck_assert_uint_eq(d, 0x10);
	ck_assert_int_eq(apmatrix_apqns_get(s, 3, &a, &d), -ENOENT);
	ck_assert_int_eq(apmatrix_apqns_format(s, buf, sizeof(buf)), 23);
	ck_assert_str_eq(buf, "05.0004,05.0010,06.0001");
	ck_assert_int_eq(apmatrix_apqns_parse(ctx, s, "07.0001-0002, 05.0004"), 0);
	apmatrix_apqns_format(s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "05.0004,05.0010,06.0001,07.0001,07.0002");
	/* any shape is fine for a set */
	ck_assert_int_eq(apmatrix_apqns_parse(ctx, s, "01.0001,02.0002"), 0);
	ck_assert_uint_eq(apmatrix_apqns_count(s), 7);
	/* not a cross product */
	ck_assert_int_eq(apmatrix_matrix_from_apqns(ctx, m, s, NULL), -EINVAL);
	ck_assert(apmatrix_matrix_is_empty(m));
	apmatrix_apqns_clear(s);
	ck_assert_uint_eq(apmatrix_apqns_count(s), 0);
	ck_assert_int_eq(apmatrix_apqns_format(s, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(apmatrix_apqns_parse(ctx, NULL, "01.0001"), -EINVAL);
	ck_assert_int_eq(apmatrix_apqns_format(NULL, buf, sizeof(buf)), -EINVAL);
	apmatrix_apqns_free(s);
}
END_TEST

START_TEST(apqns_matrix)
{
	struct apmatrix_apqns *s = apmatrix_apqns_new();
	struct apmatrix_apqns *missing = apmatrix_apqns_new();
	struct apmatrix_matrix *x = mat("05-06.0004,05-06.0007");
	char buf[128];

	apmatrix_matrix_set(m, APMATRIX_CONTROL_DOMAINS, 3, true);
	ck_assert_int_eq(apmatrix_apqns_add_matrix(s, x), 0);
	apmatrix_apqns_format(s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "05.0004,05.0007,06.0004,06.0007");
	ck_assert_int_eq(apmatrix_matrix_from_apqns(ctx, m, s, missing), 0);
	ck_assert_str_eq(fmt_apqns(m), "05-06.0004,05-06.0007");
	ck_assert_str_eq(fmt_ids(m, APMATRIX_CONTROL_DOMAINS), "0003");
	apmatrix_apqns_add(s, 7, 4);
	ck_assert_int_eq(apmatrix_matrix_from_apqns(ctx, m, s, missing), -EINVAL);
	ck_assert_str_eq(apmatrix_ctx_last_error(ctx),
			 "APQNs 05.0004,05.0007,06.0004,06.0007,07.0004 are not a full adapters x domains matrix: it would also need 07.0007");
	apmatrix_apqns_format(missing, buf, sizeof(buf));
	ck_assert_str_eq(buf, "07.0007");
	ck_assert_str_eq(fmt_apqns(m), "05-06.0004,05-06.0007");	/* unchanged */
	/* the empty set: an empty usage part */
	apmatrix_apqns_clear(s);
	ck_assert_int_eq(apmatrix_matrix_from_apqns(ctx, m, s, NULL), 0);
	ck_assert_str_eq(fmt_apqns(m), "");
	ck_assert_str_eq(fmt_ids(m, APMATRIX_CONTROL_DOMAINS), "0003");
	ck_assert_int_eq(apmatrix_matrix_from_apqns(ctx, m, NULL, NULL), -EINVAL);
	ck_assert_int_eq(apmatrix_apqns_add_matrix(NULL, m), -EINVAL);
	apmatrix_matrix_free(x);
	apmatrix_apqns_free(s);
	apmatrix_apqns_free(missing);
}
END_TEST

/* the walk over every APQN is in order and complete, also on a full set */
START_TEST(apqns_walk)
{
	struct apmatrix_apqns *s = apmatrix_apqns_new();
	unsigned int a, d, i, pa = 0, pd = 0;

	ck_assert_int_eq(apmatrix_apqns_parse(ctx, s, "00-ff.0000-00ff"), 0);
	ck_assert_uint_eq(apmatrix_apqns_count(s), 65536);
	/* (checks in hot loops only call Check on failure: each ck_assert is I/O) */
	for (i = 0; i < 65536; i++) {
		if (apmatrix_apqns_get(s, i, &a, &d) ||
		    (i && !(a > pa || (a == pa && d > pd))) || a * 256 + d != i)
			ck_abort_msg("apqns_get(%u) = %02x.%04x after %02x.%04x", i, a, d, pa, pd);
		pa = a;
		pd = d;
	}
	/* jumps, back and forth */
	ck_assert_int_eq(apmatrix_apqns_get(s, 300, &a, &d), 0);
	ck_assert_uint_eq(a, 1);
	ck_assert_uint_eq(d, 44);
	ck_assert_int_eq(apmatrix_apqns_get(s, 299, &a, &d), 0);
	ck_assert_uint_eq(d, 43);
	ck_assert_int_eq(apmatrix_apqns_get(s, 299, NULL, NULL), 0);
	/* adding invalidates the cursor */
	apmatrix_apqns_clear(s);
	apmatrix_apqns_add(s, 9, 9);
	ck_assert_int_eq(apmatrix_apqns_get(s, 0, &a, &d), 0);
	apmatrix_apqns_add(s, 1, 1);
	ck_assert_int_eq(apmatrix_apqns_get(s, 1, &a, &d), 0);
	ck_assert_uint_eq(a, 9);
	ck_assert_int_eq(apmatrix_apqns_get(s, 0, &a, &d), 0);
	ck_assert_uint_eq(a, 1);
	apmatrix_apqns_free(s);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("matrix");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ctx_defaults);
	tcase_add_test(tc, ctx_env);
	tcase_add_test(tc, matrix_basics);
	tcase_add_test(tc, mask_bit_order);
	tcase_add_test(tc, kvm_payload);
	tcase_add_test(tc, parse_apqns_good);
	tcase_add_loop_test(tc, parse_apqns_bad, 0, sizeof(bad_apqns) / sizeof(bad_apqns[0]));
	tcase_add_test(tc, cross_product_missing);
	tcase_add_test(tc, long_message);
	tcase_add_test(tc, parse_ids_good);
	tcase_add_loop_test(tc, parse_ids_bad, 0, sizeof(bad_ids) / sizeof(bad_ids[0]));
	tcase_add_test(tc, parse_ids_args);
	tcase_add_test(tc, format_apqns);
	tcase_add_test(tc, format_ids_mask);
	tcase_add_test(tc, round_trips);
	tcase_add_test(tc, apqns_basics);
	tcase_add_test(tc, apqns_matrix);
	tcase_add_test(tc, apqns_walk);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
