// SPDX-License-Identifier: LGPL-2.1-or-later
/* libapmatrix: the context, error messages, small text helpers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define APM_DEFAULT_SYSFS	"/sys"
#define APM_DEFAULT_LOCK	"/run/lock/s390apconfig.lock"
#define APM_DEFAULT_LOCK_TIMEOUT_MS	30000

const char *apmatrix_version(void)
{
	return APMATRIX_VERSION;
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

struct apmatrix_ctx *apmatrix_ctx_new(void)
{
	struct apmatrix_ctx *ctx = calloc(1, sizeof(*ctx));
	const char *root = secure_getenv("APMATRIX_SYSFS_ROOT");
	const char *lock = secure_getenv("APMATRIX_LOCK_FILE");
	const char *timeout = secure_getenv("APMATRIX_LOCK_TIMEOUT");
	char *end;
	double t;

	if (!ctx)
		return NULL;
	if (!root || !*root)
		root = APM_DEFAULT_SYSFS;
	ctx->lock_timeout_ms = APM_DEFAULT_LOCK_TIMEOUT_MS;
	if (timeout && *timeout) {
		errno = 0;
		t = strtod(timeout, &end);
		if (!errno && !*end && t >= 0 && t <= 86400)
			ctx->lock_timeout_ms = (unsigned int)(t * 1000 + 0.5);
	}
	if (!lock || !*lock)
		lock = APM_DEFAULT_LOCK;
	ctx->sysfs_root = dup_path(root);
	ctx->lock_file = strdup(lock);
	if (!ctx->sysfs_root || !ctx->lock_file) {
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
	free(ctx);
}

int apmatrix_ctx_set_sysfs_root(struct apmatrix_ctx *ctx, const char *dir)
{
	char *s;

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

int apmatrix_ctx_set_lock_timeout(struct apmatrix_ctx *ctx, unsigned int ms)
{
	if (!ctx)
		return -EINVAL;
	ctx->lock_timeout_ms = ms;
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
