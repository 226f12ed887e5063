// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: the library's core - its version, the context, and the
 * error vocabulary (errno names, the kernel's rules and what they mean,
 * the last message). Other topics have their own files: matrix.c (text
 * and bitmaps), host.c (the sysfs view), plan.c and lock.c (apmask and
 * aqmask), vm.c (the VM attribute and explain), grant.c (grants).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define APM_DEFAULT_SYSFS	"/sys"
#define APM_DEFAULT_LOCK	"/run/lock/s390apconfig.lock"
#define APM_DEFAULT_GRANT_DEVICE	"/dev/apmatrix"
#define APM_DEFAULT_LOCK_TIMEOUT_MS	30000
#define APM_DEFAULT_SETTLE_TIMEOUT_MS	2000

const char *apmatrix_version(void)
{
	return APMATRIX_VERSION;	/* the library's own, not the project's */
}

static char *dup_path(const char *p)
{
	size_t n = strlen(p);
	char *s;

	/* "/sys/" and "/sys" are the same directory; keep "/" as it is */
	while (n > 1 && p[n - 1] == '/')
		n--;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/*
 * The one reading of the environment's timeouts: seconds as a decimal
 * number ("2", "2.5", ".5") from 0 to max_s, in ms (rounded half up at
 * the fourth decimal); unset or empty: def_ms. Digits and one '.' only,
 * read here and not by strtod(): no blanks, sign, exponent, hexadecimal
 * ("0x10" was 16 s), "inf" or locale's decimal comma. Anything else is
 * not guessed at: def_ms, and the message naming the variable and its
 * value (cut at 40 characters) in bad, "" when the value was good.
 */
static unsigned int env_seconds(const char *v, const char *name,
				unsigned int max_s, unsigned int def_ms,
				char *bad, size_t badlen)
{
	unsigned long long whole = 0, ms;
	unsigned int frac = 0, nfrac = 0, digits = 0;
	bool over = false, dot = false, rest = false;
	const char *p;

	bad[0] = '\0';
	if (!v || !*v)
		return def_ms;
	for (p = v; *p; p++) {
		if (*p == '.' && !dot) {
			dot = true;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		digits++;
		if (!dot) {
			if (!over)
				whole = whole * 10 + (unsigned int)(*p - '0');
			over = over || whole > max_s;
		} else if (nfrac < 4) {
			frac = frac * 10 + (unsigned int)(*p - '0');
			nfrac++;
		} else if (*p != '0') {
			rest = true;	/* beyond the fourth decimal, only for max_s */
		}
	}
	while (nfrac < 4) {
		frac *= 10;
		nfrac++;
	}
	/* max_s itself, and no more: "86400.0001" is out of range */
	if (!*p && digits && !over && (whole < max_s || (!frac && !rest))) {
		ms = whole * 1000 + (frac + 5) / 10;
		return (unsigned int)ms;
	}
	snprintf(bad, badlen, "%s '%.40s%s': not a number of seconds from 0 to %u",
		 name, v, strlen(v) > 40 ? "..." : "", max_s);
	return def_ms;
}

struct apmatrix_ctx *apmatrix_ctx_new(void)
{
	struct apmatrix_ctx *ctx = calloc(1, sizeof(*ctx));
	const char *root = secure_getenv("APMATRIX_SYSFS_ROOT");
	const char *lock = secure_getenv("APMATRIX_LOCK_FILE");
	const char *timeout = secure_getenv("APMATRIX_LOCK_TIMEOUT");
	const char *dev = secure_getenv("APMATRIX_GRANT_DEVICE");
	const char *settle = secure_getenv("APMATRIX_SETTLE_TIMEOUT");

	if (!ctx)
		return NULL;
	if (!root || !*root)
		root = APM_DEFAULT_SYSFS;
	ctx->lock_timeout_ms = env_seconds(timeout, "APMATRIX_LOCK_TIMEOUT", 86400,
					   APM_DEFAULT_LOCK_TIMEOUT_MS,
					   ctx->lock_env_err, sizeof(ctx->lock_env_err));
	ctx->settle_timeout_ms = env_seconds(settle, "APMATRIX_SETTLE_TIMEOUT", 3600,
					     APM_DEFAULT_SETTLE_TIMEOUT_MS,
					     ctx->settle_env_err,
					     sizeof(ctx->settle_env_err));
	if (!lock || !*lock)
		lock = APM_DEFAULT_LOCK;
	if (!dev || !*dev)
		dev = APM_DEFAULT_GRANT_DEVICE;
	/* say at once what the lock will refuse (apmatrix_ctx_last_error) */
	if (ctx->lock_env_err[0])
		apm_set_msg(ctx, "%s", ctx->lock_env_err);
	else if (ctx->settle_env_err[0])
		apm_set_msg(ctx, "%s", ctx->settle_env_err);
	ctx->sysfs_root = dup_path(root);
	ctx->lock_file = strdup(lock);
	ctx->grant_device = strdup(dev);
	if (!ctx->sysfs_root || !ctx->lock_file || !ctx->grant_device) {
		apmatrix_ctx_free(ctx);
		errno = ENOMEM;
		return NULL;
	}
	return ctx;
}

void apmatrix_ctx_free(struct apmatrix_ctx *ctx)
{
	if (!ctx)
		return;
	apmatrix_unlock(ctx);
	free(ctx->sysfs_root);
	free(ctx->lock_file);
	free(ctx->grant_device);
	free(ctx);
}

int apmatrix_ctx_set_sysfs_root(struct apmatrix_ctx *ctx, const char *dir)
{
	char *s;

	apm_clear_error(ctx);
	if (!ctx)
		return -EINVAL;
	if (!dir || !*dir)
		return apm_fail(ctx, EINVAL, "the sysfs root must be a directory name, not empty");
	s = dup_path(dir);
	if (!s)
		return -ENOMEM;
	free(ctx->sysfs_root);
	ctx->sysfs_root = s;
	return 0;
}

const char *apmatrix_ctx_get_sysfs_root(const struct apmatrix_ctx *ctx)
{
	return ctx ? ctx->sysfs_root : NULL;
}

int apmatrix_ctx_set_lock_file(struct apmatrix_ctx *ctx, const char *path)
{
	char *s;

	apm_clear_error(ctx);
	if (!ctx)
		return -EINVAL;
	if (!path || !*path)
		return apm_fail(ctx, EINVAL, "the lock file must be a file name, not empty");
	s = strdup(path);
	if (!s)
		return -ENOMEM;
	free(ctx->lock_file);
	ctx->lock_file = s;
	return 0;
}

const char *apmatrix_ctx_get_lock_file(const struct apmatrix_ctx *ctx)
{
	return ctx ? ctx->lock_file : NULL;
}

int apmatrix_ctx_set_grant_device(struct apmatrix_ctx *ctx, const char *path)
{
	char *s;

	if (!ctx)
		return -EINVAL;
	apm_clear_error(ctx);
	if (!path || !*path)
		return apm_fail(ctx, EINVAL, "the grant device must be a file name, not empty");
	s = strdup(path);
	if (!s)
		return apm_fail(ctx, ENOMEM, "out of memory");
	free(ctx->grant_device);
	ctx->grant_device = s;
	return 0;
}

const char *apmatrix_ctx_get_grant_device(const struct apmatrix_ctx *ctx)
{
	return ctx ? ctx->grant_device : NULL;
}

int apmatrix_ctx_set_lock_timeout(struct apmatrix_ctx *ctx, unsigned int ms)
{
	if (!ctx)
		return -EINVAL;
	ctx->lock_timeout_ms = ms;
	ctx->lock_env_err[0] = '\0';	/* the caller's time, not the environment's */
	return 0;
}

unsigned int apmatrix_ctx_get_lock_timeout(const struct apmatrix_ctx *ctx)
{
	return ctx ? ctx->lock_timeout_ms : 0;
}

void apmatrix_ctx_set_lock_wait_fn(struct apmatrix_ctx *ctx,
				   apmatrix_lock_wait_fn fn, void *data)
{
	if (!ctx)
		return;
	ctx->lock_wait_fn = fn;
	ctx->lock_wait_data = data;
}

const char *apmatrix_ctx_last_error(const struct apmatrix_ctx *ctx)
{
	return ctx ? ctx->err : "";
}

static void vset_msg(struct apmatrix_ctx *ctx, const char *fmt, va_list ap)
{
	int n;

	if (!ctx)
		return;
	n = vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	if (n >= (int)sizeof(ctx->err))	/* cut: say so */
		memcpy(ctx->err + sizeof(ctx->err) - 4, "...", 4);
}

void apm_set_msg(struct apmatrix_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_msg(ctx, fmt, ap);
	va_end(ap);
}

int apm_fail(struct apmatrix_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_msg(ctx, fmt, ap);
	va_end(ap);
	return -err;
}

#define E(x) [x] = #x
static const char *const errno_names[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(EBADF), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY),
	E(EEXIST), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE),
	E(EMFILE), E(ENOTTY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS),
	E(EPIPE), E(ERANGE), E(ENOSYS), E(ELOOP), E(ENAMETOOLONG),
	E(EOPNOTSUPP), E(EADDRINUSE), E(EADDRNOTAVAIL), E(EPROTO),
	E(EOVERFLOW), E(ETIMEDOUT), E(ECANCELED), E(ENOMEDIUM),
};
#undef E

/*
 * The kernel's rules for KVM_S390_VM_CRYPTO_SET_AP_MATRIX (the contract's
 * table, in its order), and the errnos opening a VM or grant gives.
 */
static const struct {
	int err;
	const char *meaning;
} rules[] = {
	{ EINVAL, "the request had unknown flag bits, non-zero reserved fields, or a grant_fd that is no grant" },
	{ EBADF, "the grant_fd is not an open file descriptor" },
	{ EOPNOTSUPP, "the host has no AP instructions or no apmatrix AP driver is registered" },
	{ EEXIST, "the VM's AP configuration belongs to vfio_ap (a mediated device is attached to it)" },
	{ ENODEV, "an ID is beyond the host's AP configuration or the VM's CRYCB format" },
	{ EPERM, "the matrix adds a queue or control domain that the VM does not hold, its grant does not cover, and CAP_SYS_ADMIN does not allow" },
	{ EADDRNOTAVAIL, "an APQN is not available to apmatrix (still the host's, or not bound to the apmatrix driver)" },
	{ EADDRINUSE, "an APQN is held by another VM" },
	{ EBUSY, "an APQN's reset after leaving another VM has not finished or failed" },
	{ EINTR, "a fatal signal arrived while waiting for a lock; nothing changed" },
	{ EIO, "the reset of a queue did not complete; the VM holds the new matrix minus that queue's adapter" },
	{ ENXIO, "the kernel does not offer KVM_S390_VM_CRYPTO_SET_AP_MATRIX on this VM" },
	{ ENOTTY, "not a KVM VM file descriptor" },
};

const char *apmatrix_rule_name(int err)
{
	return apm_errno_name(err);
}

const char *apmatrix_rule_meaning(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].err == err)
			return rules[i].meaning;
	return NULL;
}

const char *apm_errno_name(int err)
{
	if (err < 0)
		err = -err;
	if ((size_t)err < sizeof(errno_names) / sizeof(errno_names[0]))
		return errno_names[err];
	return NULL;
}

const char *apm_strerror(int err, char *buf, size_t len)
{
	char tmp[128];
	const char *name, *desc;

	if (err < 0)
		err = -err;
	name = apm_errno_name(err);
	desc = strerror_r(err, tmp, sizeof(tmp));
	if (name)
		snprintf(buf, len, "%s (%s)", desc, name);
	else
		snprintf(buf, len, "%s (errno %d)", desc, err);
	return buf;
}

void apm_sb_init(struct apm_sbuf *sb, char *buf, size_t len)
{
	sb->buf = buf;
	sb->len = buf ? len : 0;
	sb->pos = 0;
	if (sb->len)
		buf[0] = '\0';
}

void apm_sb_printf(struct apm_sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	char *dst = NULL;
	size_t room = 0;
	int n;

	if (sb->pos < sb->len) {
		dst = sb->buf + sb->pos;
		room = sb->len - sb->pos;
	}
	va_start(ap, fmt);
	n = vsnprintf(dst, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb->pos += n;
}

int apm_sb_result(struct apm_sbuf *sb)
{
	if (sb->pos > INT_MAX)
		return -EOVERFLOW;
	return (int)sb->pos;
}
