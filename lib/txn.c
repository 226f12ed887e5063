// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: the AP configuration lock held across a whole transaction
 * (read the host, plan, check, write), and binding a queue to a driver.
 *
 * apmatrix_lock() takes the same lock apmatrix_plan_apply() takes
 * (s390-tools' protocol, lock.c) and keeps it in the context;
 * apmatrix_plan_apply() then uses it instead of taking it again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int apmatrix_lock(struct apmatrix_ctx *ctx, bool wait)
{
	unsigned int timeout;
	struct apm_lock *l;
	int rc;

	if (!ctx)
		return -EINVAL;
	if (ctx->txn_lock)
		return apm_fail(ctx, EALREADY, "the AP configuration lock %s is held already",
				ctx->lock_file);
	l = calloc(1, sizeof(*l));
	if (!l)
		return apm_fail(ctx, ENOMEM, "out of memory");
	timeout = ctx->lock_timeout_ms;
	if (!wait)
		ctx->lock_timeout_ms = 0;
	rc = apm_lock_take(ctx, l);
	ctx->lock_timeout_ms = timeout;
	if (rc) {
		free(l);
		if (!wait && rc == -ETIMEDOUT)
			return apm_fail(ctx, EWOULDBLOCK,
					"another program holds the AP configuration lock %s",
					ctx->lock_file);
		return rc;
	}
	ctx->txn_lock = l;
	return 0;
}

void apmatrix_unlock(struct apmatrix_ctx *ctx)
{
	if (!ctx || !ctx->txn_lock)
		return;
	apm_lock_release(ctx, ctx->txn_lock);	/* then held-back signals arrive */
	free(ctx->txn_lock);
	ctx->txn_lock = NULL;
}

/* The driver queue name is bound to now, into buf; "" if none. */
int apm_queue_driver(struct apmatrix_ctx *ctx, const char *name, char *buf,
		     size_t len)
{
	char *path = NULL, target[4096];
	const char *slash;
	ssize_t n;

	if (asprintf(&path, "%s/bus/ap/devices/%s/driver", ctx->sysfs_root, name) < 0)
		return -ENOMEM;
	n = readlink(path, target, sizeof(target) - 1);
	free(path);
	if (n < 0) {
		buf[0] = '\0';
		return errno == ENOENT ? 0 : -errno;
	}
	target[n] = '\0';
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	if (strlen(slash) >= len)
		return -ENAMETOOLONG;
	memcpy(buf, slash, strlen(slash) + 1);
	return 0;
}

/* write "NAME\n" to bus/ap/drivers/DRIVER/bind or unbind; -errno, message set */
static int driver_write(struct apmatrix_ctx *ctx, const char *name,
			const char *driver, bool bind)
{
	const char *file = bind ? "bind" : "unbind";
	char text[24], e[160], *path = NULL;
	int rc, err;

	if (asprintf(&path, "%s/bus/ap/drivers/%s/%s", ctx->sysfs_root, driver,
		     file) < 0)
		return apm_fail(ctx, ENOMEM, "out of memory");
	/*
	 * As `echo XX.YYYY > bind`: one write of the name. O_APPEND changes
	 * nothing for a sysfs attribute (its store ignores the offset) and
	 * lets a fixture tree's plain file keep every name written.
	 */
	snprintf(text, sizeof(text), "%s\n", name);
	err = -apm_write_text(path, text, O_APPEND);
	if (err) {
		rc = apm_fail(ctx, err, "%s %s: writing %s: %s", bind ?
			      "binding" : "unbinding", name, path,
			      apm_strerror(err, e, sizeof(e)));
		free(path);
		return rc;
	}
	free(path);
	return 0;
}

int apm_queue_unbind_from(struct apmatrix_ctx *ctx, unsigned int apid,
			  unsigned int apqi, const char *driver)
{
	char name[16];

	snprintf(name, sizeof(name), "%02x.%04x", apid, apqi);
	return driver_write(ctx, name, driver, false);
}

int apmatrix_queue_bind(struct apmatrix_ctx *ctx, unsigned int apid,
			unsigned int apqi, const char *driver)
{
	char name[16], cur[256], e[160];
	int rc;

	if (!ctx || apid > APMATRIX_MAX_ID || apqi > APMATRIX_MAX_ID ||
	    (driver && (!*driver || strchr(driver, '/'))))
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_queue_bind()");
	snprintf(name, sizeof(name), "%02x.%04x", apid, apqi);
	if (driver)
		return driver_write(ctx, name, driver, true);
	rc = apm_queue_driver(ctx, name, cur, sizeof(cur));
	if (rc < 0)
		return apm_fail(ctx, -rc, "%s: reading its driver: %s", name,
				apm_strerror(-rc, e, sizeof(e)));
	if (!cur[0])
		return 0;	/* bound to nothing: done */
	return driver_write(ctx, name, cur, false);
}
