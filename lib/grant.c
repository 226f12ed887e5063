// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: grants, the authority to add AP queues and control domains
 * to a VM (the contract's "Authority").
 *
 * A grant is a file descriptor made by the APMATRIX_CREATE_GRANT ioctl on
 * /dev/apmatrix; it claims nothing, it only says which usage adapters x
 * domains and control domains its holder may add to a VM. Its matrix is
 * shown in /proc/self/fdinfo/FD as the lines "apm:\t0x<64 hex>", "aqm:"
 * and "adm:". Every file here is opened with plain open(), so a simulated
 * host may interpose it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "kvm-abi.h"

struct apmatrix_grant_fd {
	int fd;
	struct apmatrix_matrix m;
};

/*
 * The matrix of grant fd from /proc/self/fdinfo/FD. -EINVAL (message)
 * when the fd is open but no grant (no apm:/aqm:/adm: lines), -EBADF
 * when it is not open.
 */
int apm_grant_read(struct apmatrix_ctx *ctx, int fd, int shown,
		   struct apmatrix_matrix *m)
{
	static const char *const keys[APM_NPARTS] = { "apm:", "aqm:", "adm:" };
	char path[64], buf[4096], e[160];
	bool seen[APM_NPARTS] = { false };
	size_t n = 0;
	ssize_t r;
	char *line, *save = NULL;
	int ifd, p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ifd = open(path, O_RDONLY | O_CLOEXEC);
	if (ifd < 0) {
		if (errno == ENOENT)
			return apm_fail(ctx, EBADF, "fd %d is not open", shown);
		return apm_fail(ctx, errno, "reading %s: %s", path,
				apm_strerror(errno, e, sizeof(e)));
	}
	while (n < sizeof(buf) - 1) {
		r = read(ifd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += r;
	}
	close(ifd);
	buf[n] = '\0';
	memset(m, 0, sizeof(*m));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		for (p = 0; p < APM_NPARTS; p++) {
			const char *v = line + strlen(keys[p]);

			if (strncmp(line, keys[p], strlen(keys[p])))
				continue;
			v += strspn(v, " \t");
			if (apm_bits_from_mask(m->part[p], v))
				return apm_fail(ctx, EINVAL,
						"%s: '%s' is not a mask (0x and 64 hex digits)",
						path, line);
			seen[p] = true;
		}
	}
	if (!seen[0] || !seen[1] || !seen[2])
		return apm_fail(ctx, EINVAL,
				"fd %d is not an apmatrix grant (its fdinfo has no apm:/aqm:/adm: lines)",
				shown);
	return 0;
}

static int grant_new(struct apmatrix_ctx *ctx, int fd, int shown,
		     struct apmatrix_grant_fd **grant)
{
	struct apmatrix_grant_fd *g = calloc(1, sizeof(*g));
	int rc;

	if (!g) {
		close(fd);
		return apm_fail(ctx, ENOMEM, "out of memory");
	}
	g->fd = fd;
	rc = apm_grant_read(ctx, fd, shown, &g->m);
	if (rc) {
		close(fd);
		free(g);
		return rc;
	}
	*grant = g;
	return 0;
}

int apmatrix_grant_create(struct apmatrix_ctx *ctx,
			  const struct apmatrix_matrix *m,
			  struct apmatrix_grant_fd **grant)
{
	struct apmatrix_grant_abi req;
	char e[160];
	int dev, fd, err, p, w;

	apm_clear_error(ctx);
	if (!ctx || !m || !grant)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_grant_create()");
	*grant = NULL;
	if (apmatrix_matrix_is_empty(m))
		return apm_fail(ctx, EINVAL,
				"a grant for nothing: the matrix has no adapter, domain or control domain");
	memset(&req, 0, sizeof(req));
	for (p = 0; p < APM_NPARTS; p++)
		for (w = 0; w < APM_WORDS; w++)
			req.mask[p][w] = m->part[p][w];
	dev = open(ctx->grant_device, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (dev < 0) {
		err = errno;
		if (err == ENOENT || err == ENXIO || err == ENODEV)
			return apm_fail(ctx, err,
					"%s: %s (is the apmatrix AP driver loaded?)",
					ctx->grant_device, apm_strerror(err, e, sizeof(e)));
		return apm_fail(ctx, err, "opening %s: %s", ctx->grant_device,
				apm_strerror(err, e, sizeof(e)));
	}
	do {
		fd = ioctl(dev, APMATRIX_ABI_CREATE_GRANT, &req);
	} while (fd < 0 && errno == EINTR);
	err = errno;
	close(dev);
	if (fd < 0) {
		if (err == ENODEV)
			return apm_fail(ctx, ENODEV,
					"APMATRIX_CREATE_GRANT: an ID is beyond the host's AP configuration, or a control domain is not one of the host's (ENODEV)");
		return apm_fail(ctx, err, "APMATRIX_CREATE_GRANT on %s: %s",
				ctx->grant_device, apm_strerror(err, e, sizeof(e)));
	}
	return grant_new(ctx, fd, fd, grant);
}

int apmatrix_grant_open_fd(struct apmatrix_ctx *ctx, int fd,
			   struct apmatrix_grant_fd **grant)
{
	char e[160];
	int nfd;

	apm_clear_error(ctx);
	if (!ctx || !grant)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_grant_open_fd()");
	*grant = NULL;
	if (fd < 0)
		return apm_fail(ctx, EBADF, "fd %d is not a file descriptor", fd);
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (nfd < 0)
		return apm_fail(ctx, errno, "grant fd %d: %s", fd,
				apm_strerror(errno, e, sizeof(e)));
	return grant_new(ctx, nfd, fd, grant);
}

void apmatrix_grant_free(struct apmatrix_grant_fd *grant)
{
	if (!grant)
		return;
	close(grant->fd);
	free(grant);
}

int apmatrix_grant_get_fd(const struct apmatrix_grant_fd *grant)
{
	return grant ? grant->fd : -EINVAL;
}

int apmatrix_grant_get_matrix(const struct apmatrix_grant_fd *grant,
			      struct apmatrix_matrix *m)
{
	if (!grant || !m)
		return -EINVAL;
	*m = grant->m;
	return 0;
}
