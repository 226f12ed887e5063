// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * mini-vmm - the smallest VMM that gives a KVM guest AP queues the way
 * QEMU would with libapmatrix: open /dev/kvm, KVM_CREATE_VM, probe the
 * attribute, optionally reserve the queues on the host, set the matrix when
 * the guest starts, set it again with RESET when the guest reboots, and
 * exit (closing the VM fd releases everything).
 *
 *   mini-vmm [--reserve] [--control-domains IDS] [--apie] [APQNS]
 *
 * When APMATRIX_GRANT_FD names an inherited grant fd (apmatrix-ctl grant
 * ... -- mini-vmm ..., or a manager), every set passes it: a VMM without
 * CAP_SYS_ADMIN needs one to add queues and control domains.
 *
 * Then it runs until told to stop. Commands on stdin (one per line):
 *   reboot            the guest reboots: the same matrix again with RESET
 *   set [APQNS]       live update (hot plug/unplug); empty = give up all
 *   get               print the VM's matrix
 *   quit              exit
 * Signals: SIGUSR1 = reboot, SIGTERM/SIGINT = quit.
 * Every answer is one line on stdout starting with "mini-vmm:" so tests can
 * wait for it; errors go to stderr. Exit status: 0 after quit, 1 usage,
 * 2 KVM or host unusable, 3 the matrix was refused at start.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <apmatrix.h>

#define KVMIO 0xAE
#define KVM_CREATE_VM_IOCTL _IO(KVMIO, 0x01)

struct vmm {
	struct apmatrix_ctx *ctx;
	struct apmatrix_vm *vm;
	struct apmatrix_matrix *m;	/* what the guest was given */
	char control[256];
};

static int parse_matrix(struct vmm *v, const char *apqns, struct apmatrix_matrix *m)
{
	int rc;

	apmatrix_matrix_clear(m);
	rc = apmatrix_matrix_parse_apqns(v->ctx, m, apqns ? apqns : "", NULL);
	if (!rc && v->control[0])
		rc = apmatrix_matrix_parse_ids(v->ctx, m, APMATRIX_CONTROL_DOMAINS, v->control);
	if (rc)
		fprintf(stderr, "mini-vmm: %s\n", apmatrix_ctx_last_error(v->ctx));
	return rc;
}

/* set the matrix; on refusal name what was refused */
static int give(struct vmm *v, struct apmatrix_matrix *m, unsigned int flags, const char *what)
{
	char buf[1024];
	int rc;

	rc = apmatrix_vm_set(v->vm, m, flags);
	if (rc) {
		if (apmatrix_vm_explain(v->vm, m, rc, NULL, NULL) == 0)
			fprintf(stderr, "mini-vmm: %s refused: %s\n", what,
				apmatrix_ctx_last_error(v->ctx));
		else
			fprintf(stderr, "mini-vmm: %s refused: %s\n", what, strerror(-rc));
		printf("mini-vmm: %s failed %s\n", what, strerror(-rc));
		return rc;
	}
	apmatrix_matrix_format_apqns(m, buf, sizeof(buf));
	printf("mini-vmm: %s ok %s\n", what, buf[0] ? buf : "(empty)");
	return 0;
}

static int reserve(struct vmm *v, const struct apmatrix_matrix *m)
{
	struct apmatrix_host *host = NULL;
	struct apmatrix_plan *plan = NULL;
	int rc;

	rc = apmatrix_host_read(v->ctx, &host);
	if (!rc)
		rc = apmatrix_plan_reserve(v->ctx, host, m, &plan);
	if (!rc && !apmatrix_plan_is_noop(plan))
		rc = apmatrix_plan_apply(v->ctx, plan);
	if (rc)
		fprintf(stderr, "mini-vmm: reserve: %s\n", apmatrix_ctx_last_error(v->ctx));
	apmatrix_plan_free(plan);
	apmatrix_host_free(host);
	return rc;
}

/* one stdin command; returns 1 to quit */
static int command(struct vmm *v, char *line)
{
	struct apmatrix_matrix *m;
	char buf[1024];
	size_t n = strlen(line);

	while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = '\0';
	if (!strcmp(line, "quit"))
		return 1;
	if (!strcmp(line, "reboot")) {
		give(v, v->m, APMATRIX_SET_RESET, "reboot");
	} else if (!strncmp(line, "set", 3) && (line[3] == '\0' || line[3] == ' ')) {
		m = apmatrix_matrix_new();
		if (m && !parse_matrix(v, line[3] ? line + 4 : "", m) && !give(v, m, 0, "set")) {
			apmatrix_matrix_free(v->m);
			v->m = m;
			m = NULL;
		}
		apmatrix_matrix_free(m);
	} else if (!strcmp(line, "get")) {
		m = apmatrix_matrix_new();
		if (m && !apmatrix_vm_get(v->vm, m)) {
			apmatrix_matrix_format_apqns(m, buf, sizeof(buf));
			printf("mini-vmm: get %s\n", buf[0] ? buf : "(empty)");
		} else {
			printf("mini-vmm: get failed\n");
		}
		apmatrix_matrix_free(m);
	} else if (line[0]) {
		printf("mini-vmm: unknown command %s\n", line);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: mini-vmm [--reserve] [--control-domains IDS] [--apie] [APQNS]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reserve", no_argument, NULL, 'r' },
		{ "control-domains", required_argument, NULL, 'c' },
		{ "apie", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmm v = { 0 };
	bool do_reserve = false, apie = false, stdin_open = true;
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	sigset_t sigs;
	char line[1024];
	size_t have = 0;
	ssize_t n;
	char *nl;
	int c, kvm, vmfd, sfd, rc = 0, quit = 0;

	while ((c = getopt_long(argc, argv, "rc:ih", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			do_reserve = true;
			break;
		case 'c':
			snprintf(v.control, sizeof(v.control), "%s", optarg);
			break;
		case 'i':
			apie = true;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 1;
		}
	}
	if (argc - optind > 1) {
		usage();
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* before anything can be reported: a signal is never lost */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (sfd < 0)
		return 2;

	v.ctx = apmatrix_ctx_new();
	v.m = apmatrix_matrix_new();
	if (!v.ctx || !v.m) {
		rc = 2;
		goto out;
	}
	if (parse_matrix(&v, optind < argc ? argv[optind] : "", v.m)) {
		rc = 1;
		goto out;
	}

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "mini-vmm: /dev/kvm: %s\n", strerror(errno));
		rc = 2;
		goto out;
	}
	vmfd = ioctl(kvm, KVM_CREATE_VM_IOCTL, 0UL);
	close(kvm);
	if (vmfd < 0) {
		fprintf(stderr, "mini-vmm: KVM_CREATE_VM: %s\n", strerror(errno));
		rc = 2;
		goto out;
	}
	rc = apmatrix_vm_open_fd(v.ctx, vmfd, &v.vm);
	if (rc) {
		fprintf(stderr, "mini-vmm: %s\n", apmatrix_ctx_last_error(v.ctx));
		rc = 2;
		goto out;
	}
	/* the library keeps its own copy; hold one VM fd, so that
	 * "apmatrix-ctl --pid" finds exactly one */
	close(vmfd);
	vmfd = apmatrix_vm_fd(v.vm);
	rc = apmatrix_vm_probe(v.vm);
	if (rc) {
		fprintf(stderr, "mini-vmm: the kernel does not offer the AP matrix attribute: %s\n",
			strerror(-rc));
		rc = 2;
		goto out;
	}
	if (getenv("APMATRIX_GRANT_FD") && *getenv("APMATRIX_GRANT_FD")) {
		struct apmatrix_grant_fd *g = NULL;
		char *end;
		long gfd = strtol(getenv("APMATRIX_GRANT_FD"), &end, 10);

		rc = *end || gfd < 0 || gfd > INT_MAX ? -EINVAL :
		     apmatrix_grant_open_fd(v.ctx, (int)gfd, &g);
		if (!rc)
			rc = apmatrix_vm_set_grant(v.vm, g);
		apmatrix_grant_free(g);	/* the VM keeps its own copy */
		if (rc) {
			fprintf(stderr, "mini-vmm: APMATRIX_GRANT_FD: %s\n",
				*apmatrix_ctx_last_error(v.ctx) ?
				apmatrix_ctx_last_error(v.ctx) : strerror(-rc));
			rc = 1;
			goto out;
		}
	}
	if (apie && apmatrix_vm_enable_apie(v.vm))
		fprintf(stderr, "mini-vmm: enable APIE: %s\n", apmatrix_ctx_last_error(v.ctx));
	if (do_reserve && !apmatrix_matrix_is_empty(v.m) && reserve(&v, v.m)) {
		rc = 2;
		goto out;
	}
	if (!apmatrix_matrix_is_empty(v.m) && give(&v, v.m, 0, "start")) {
		rc = 3;
		goto out;
	}
	printf("mini-vmm: running pid %d vm-fd %d\n", (int)getpid(), vmfd);

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = stdin_open ? 0 : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGUSR1)
				give(&v, v.m, APMATRIX_SET_RESET, "reboot");
			else
				break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP)) {
			/* read(), not stdio: poll() must see every line */
			n = read(0, line + have, sizeof(line) - 1 - have);
			if (n <= 0) {
				stdin_open = false;	/* keep running until a signal */
				continue;
			}
			have += (size_t)n;
			line[have] = '\0';
			while (!quit && (nl = strchr(line, '\n'))) {
				*nl = '\0';
				quit = command(&v, line);
				have -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, have + 1);
			}
			if (have == sizeof(line) - 1)
				have = 0;	/* an overlong line: drop it */
			if (quit)
				break;
		}
	}
	printf("mini-vmm: exiting\n");
out:
	/* every way out frees what it made (a leak aborts the ASan build) */
	apmatrix_vm_free(v.vm);
	apmatrix_matrix_free(v.m);
	apmatrix_ctx_free(v.ctx);
	return rc;
}
