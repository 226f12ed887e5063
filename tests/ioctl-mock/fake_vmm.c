// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fake-vmm: a process that holds fake KVM VM fds for ioctl-mock.
 *
 *   fake-vmm [-n COUNT]
 *       Makes COUNT (default 1) memfds named "apmatrix-fake-vm", prints
 *       "PID FD [FD...]" and a newline on stdout, then waits until its
 *       stdin reaches EOF (or it gets SIGTERM) and exits 0. With the
 *       ioctl-mock preloaded in the caller, apmatrix_vm_open_pid(PID)
 *       sees those fds as KVM VMs.
 *   fake-vmm -- COMMAND [ARG...]
 *       Makes one such memfd, leaves it open across exec, puts its
 *       number in APMATRIX_FAKE_VM_FD and executes COMMAND.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int fake_vm(unsigned int flags)
{
	int fd = memfd_create("apmatrix-fake-vm", flags);

	if (fd < 0) {
		fprintf(stderr, "fake-vmm: memfd_create: %s\n", strerror(errno));
		exit(2);
	}
	return fd;
}

int main(int argc, char **argv)
{
	unsigned int i, n = 1;
	char buf[64];

	if (argc >= 3 && !strcmp(argv[1], "--")) {
		snprintf(buf, sizeof(buf), "%d", fake_vm(0));
		setenv("APMATRIX_FAKE_VM_FD", buf, 1);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "fake-vmm: %s: %s\n", argv[2], strerror(errno));
		return 127;
	}
	if (argc == 3 && !strcmp(argv[1], "-n")) {
		n = strtoul(argv[2], NULL, 10);
	} else if (argc != 1) {
		fprintf(stderr, "usage: fake-vmm [-n COUNT] | fake-vmm -- COMMAND [ARG...]\n");
		return 2;
	}
	printf("%d", (int)getpid());
	for (i = 0; i < n; i++)
		printf(" %d", fake_vm(MFD_CLOEXEC));
	printf("\n");
	fflush(stdout);
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	return 0;
}
