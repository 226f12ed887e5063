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
};

#define APSIM_F_BADADDR 1u	/* attr.addr was not readable/writable */

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
