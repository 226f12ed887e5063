// SPDX-License-Identifier: GPL-2.0
/*
 * apsimctl - talk to the simulated host (apsimd) on APMATRIX_SIM_SOCKET.
 *
 *   apsimctl wait [SECONDS]       until apsimd answers (default 10 s)
 *   apsimctl COMMAND [ARGS...]    one control command, its answer on stdout:
 *     ping | stats | vms | dmesg | crycb ID | events ID | queue AA.DDDD
 *     remove-adapter AA | remove-domain DDDD | remove-control-domain DDDD
 *                                                 (leave the configuration)
 *     unbind AA.DDDD | bind AA.DDDD DRIVER        (sysfs unbind/bind)
 *     reset-mode AA.DDDD normal|slow N|never|se-busy|se-failed
 *     reset-timing INTERVAL_MS POLLS | fail-alloc N
 *     hold-perms MS                               (ap_perms_mutex busy for MS)
 *     worker-polls N | flush                      (the reset worker: its bound; wait for it)
 *     attr AA.DDDD NAME                           (a queue's sysfs attribute, e.g. apmatrix_state)
 *     vfio-ap-attach ID | vfio-ap-detach ID       (a vfio_ap mdev on VM ID)
 *     vfio-ap-assign AA.DDDD | vfio-ap-unassign AA.DDDD
 *                                                 (a vfio_ap mdev's matrix has the queue or not)
 *     vfio-ap-first 0|1                           (vfio_ap registered before apmatrix)
 *     fail-bind AA.DDDD                           (its next sysfs bind fails: probe() error)
 *     register | unregister | ap-instructions 0|1 | quit
 * Exit status: 0 ok, 1 the command failed (message on stderr), 2 usage,
 * 3 apsimd not reachable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "apsim-proto.h"

static int call(const char *sock, const struct apsim_req *q, struct apsim_reply *r)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = offsetof(struct apsim_req, data) + q->len;
	ssize_t n;
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, q, len, MSG_NOSIGNAL) != (ssize_t)len) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	n = recv(fd, r, sizeof(*r), 0);
	close(fd);
	if (n < (ssize_t)offsetof(struct apsim_reply, data) || r->magic != APSIM_MAGIC)
		return -EIO;
	return 0;
}

int main(int argc, char **argv)
{
	const char *sock = getenv(APSIM_SOCKET_ENV);
	static struct apsim_req q;
	static struct apsim_reply r;
	size_t off = 0;
	int i, rc;

	if (argc < 2 || !sock || !*sock) {
		fprintf(stderr, "usage: %s=PATH apsimctl COMMAND [ARGS...]\n", APSIM_SOCKET_ENV);
		return 2;
	}
	q.magic = APSIM_MAGIC;
	q.op = APSIM_CTL;
	if (!strcmp(argv[1], "wait")) {
		double limit = argc > 2 ? atof(argv[2]) : 10.0, waited = 0;

		strcpy(q.data, "ping");
		q.len = 5;
		while ((rc = call(sock, &q, &r)) && waited < limit) {
			usleep(20000);
			waited += 0.02;
		}
		if (rc) {
			fprintf(stderr, "apsimctl: apsimd on %s: %s\n", sock, strerror(-rc));
			return 3;
		}
		return 0;
	}
	for (i = 1; i < argc; i++) {
		int n = snprintf(q.data + off, sizeof(q.data) - off, "%s%s", i > 1 ? " " : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(q.data) - off) {
			fprintf(stderr, "apsimctl: command too long\n");
			return 2;
		}
		off += (size_t)n;
	}
	q.len = (uint32_t)off + 1;
	rc = call(sock, &q, &r);
	if (rc) {
		fprintf(stderr, "apsimctl: apsimd on %s: %s\n", sock, strerror(-rc));
		return 3;
	}
	r.data[sizeof(r.data) - 1] = '\0';
	fputs(r.data, stdout);
	if (r.err) {
		fprintf(stderr, "apsimctl: %s: %s\n", argv[1], strerror(-r.err));
		return 1;
	}
	return 0;
}
