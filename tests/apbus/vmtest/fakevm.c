// SPDX-License-Identifier: GPL-2.0
/*
 * fakevm: run a command with a fake KVM VM (tests/apbus/vmtest) open on
 * a given fd, as a VMM holds its VM fd.
 *
 *   fakevm FD COMMAND [ARGS...]
 *
 * Creates a VM with /dev/apmatrix_vmtest's APMATRIX_VMTEST_CREATE_VM, puts
 * its fd at FD (inherited across exec), and execs COMMAND. The VM lives as
 * long as some process holds the fd: `fakevm 5 sleep 1000 &` is a VMM that
 * apmatrix-ctl reaches with --pid; `fakevm 5 apmatrix-ctl set --vm-fd 5
 * ...` a VM that lives for one command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define APMATRIX_VMTEST_CREATE_VM _IO(0xB9, 0xF0)

int main(int argc, char **argv)
{
	char *end;
	long want;
	int dev, vm;

	if (argc < 3) {
		fprintf(stderr, "usage: fakevm FD COMMAND [ARGS...]\n");
		return 2;
	}
	errno = 0;
	want = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || want < 3 || want > 1000) {
		fprintf(stderr, "fakevm: bad FD '%s' (3..1000)\n", argv[1]);
		return 2;
	}
	dev = open("/dev/apmatrix_vmtest", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		fprintf(stderr, "fakevm: /dev/apmatrix_vmtest: %s\n", strerror(errno));
		return 1;
	}
	vm = ioctl(dev, APMATRIX_VMTEST_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "fakevm: APMATRIX_VMTEST_CREATE_VM: %s\n",
			strerror(errno));
		return 1;
	}
	/* dup2() clears close-on-exec on the new fd */
	if (vm != want) {
		if (dup2(vm, (int)want) < 0) {
			fprintf(stderr, "fakevm: dup2 to %ld: %s\n", want,
				strerror(errno));
			return 1;
		}
		close(vm);
	} else if (fcntl(vm, F_SETFD, 0) < 0) {
		fprintf(stderr, "fakevm: fcntl: %s\n", strerror(errno));
		return 1;
	}
	close(dev);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "fakevm: %s: %s\n", argv[2], strerror(errno));
	return 127;
}
