/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The protocol between the simulated host (apsimd) and its clients (the
 * LD_PRELOAD library, apsimctl). SOCK_SEQPACKET over the unix socket named
 * by APMATRIX_SIM_SOCKET; one request, one reply, fixed structs, host byte
 * order (both ends run on the same machine).
 *
 * A VM is one connection: it starts with APSIM_HELLO_VM, and that socket
 * is the VM fd the program holds. Later requests on it carry, as
 * SCM_RIGHTS, one end of a fresh socketpair the reply goes to, so any
 * process holding a copy of the VM fd (inherited, dup'ed, taken with
 * pidfd_getfd) gets its own answers. When the last copy is closed the
 * server sees EOF and destroys the VM. Other requests use a connection of
 * their own and get the reply on it.
 *
 * The server decides capable() and the like from the sender's real
 * credentials: it receives SCM_CREDENTIALS with every request (SO_PASSCRED)
 * and reads the sender's effective capabilities and user namespace from
 * /proc/PID.
 *
 * Grants: APSIM_GRANT_CREATE runs /dev/apmatrix's ioctl in the simulated
 * kernel; the new file is represented by one end of a socketpair whose
 * other end the server keeps, passed back with SCM_RIGHTS: the client's fd
 * is a real fd (dup, fork, exec, SCM_RIGHTS, close all work), and the
 * server drops its reference when every copy is closed. A SET with
 * KVM_S390_AP_MATRIX_GRANT passes the fd named by grant_fd along (second
 * SCM_RIGHTS fd, APSIM_F_GRANT_FD), or says it is not open
 * (APSIM_F_GRANT_BADF); the server puts the file it stands for (or a file
 * of another kind) at that number in the calling task's fd table.
 */
#ifndef APSIM_PROTO_H
#define APSIM_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define APSIM_MAGIC 0x41505331u	/* "APS1" */
#define APSIM_SOCKET_ENV "APMATRIX_SIM_SOCKET"
#define APSIM_DATA_MAX 1024
#define APSIM_REPLY_MAX (60 * 1024)

enum apsim_op {
	APSIM_HELLO_VM = 1,	/* arg0: CRYCB format; arg1: the client's socket inode -> val: VM id */
	APSIM_HAS_ATTR = 2,	/* group, attr */
	APSIM_SET_ATTR = 3,	/* group, attr, data: the payload (len bytes) */
	APSIM_GET_ATTR = 4,	/* group, attr, len -> data */
	APSIM_IS_VM = 5,	/* arg1: a socket inode -> err 0 (val: VM id) or -ENOENT */
	APSIM_MASK_WRITE = 6,	/* arg0: 0 apmask, 1 aqmask; data: the text written */
	APSIM_ROOT = 7,		/* -> data: the sysfs root the server owns */
	APSIM_CTL = 8,		/* data: a control command line -> data: its text answer */
	APSIM_GRANT_CREATE = 9,	/* group: ioctl cmd, data: struct apmatrix_grant -> SCM_RIGHTS:
				 * the new fd; val: the kernel's fd number */
	APSIM_FILE_INFO = 10,	/* arg1: a socket inode -> val: 1 VM, 2 a kernel file
				 * (data: "NAME\0INO\0FDINFO-LINES"), err -ENOENT: neither */
	APSIM_QUEUE_ATTR = 11,	/* arg0: APQN, data: attribute name -> data: its text */
};

#define APSIM_F_BADADDR 1u	/* attr.addr was not readable/writable */
#define APSIM_F_GRANT_FD 2u	/* the grant fd comes as the second SCM_RIGHTS fd */
#define APSIM_F_GRANT_BADF 4u	/* grant_fd is not an open fd of the caller */
#define APSIM_F_NOWRITE 8u	/* GRANT_CREATE: the caller's /dev/apmatrix fd is
				 * not open for writing */

struct apsim_req {
	uint32_t magic;
	uint32_t op;
	uint64_t group;
	uint64_t attr;
	int64_t arg0;
	int64_t arg1;
	uint32_t flags;
	uint32_t len;
	char data[APSIM_DATA_MAX];
};

struct apsim_reply {
	uint32_t magic;
	int32_t err;		/* 0 or -errno */
	int64_t val;
	uint32_t len;
	uint32_t pad;
	char data[APSIM_REPLY_MAX];
};

#endif /* APSIM_PROTO_H */
