// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libapmatrix: the host view, a snapshot of /sys/bus/ap.
 *
 * Formats as Linux 6.12 prints them (drivers/s390/crypto/ap_bus.c,
 * ap_card.c, ap_queue.c, zcrypt_card.c, zcrypt_queue.c):
 *   bus/ap/apmask, aqmask          "0x%016lx%016lx%016lx%016lx\n"
 *   bus/ap/ap_adapter_mask,
 *   ap_usage_domain_mask,
 *   ap_control_domain_mask         "0x" + 8 x "%08x" + "\n", or
 *                                  "not supported\n" without QCI
 *   bus/ap/ap_max_adapter_id,
 *   ap_max_domain_id               "%d\n"
 *   bus/ap/devices/cardXX          -> ../../../devices/ap/cardXX
 *     hwtype, raw_hwtype, depth, config  "%d\n"; type (zcrypt) "CEX8C\n";
 *     online (zcrypt) "%d\n"
 *     chkstop "%d\n"; driver -> .../bus/ap/drivers/cex4card
 *   bus/ap/devices/XX.YYYY         -> ../../../devices/ap/cardXX/XX.YYYY
 *     config, chkstop "%d\n"; online (zcrypt) "%d\n";
 *     driver -> .../bus/ap/drivers/NAME
 * Every path is opened relative to a directory fd, so the symlinks of
 * real sysfs are followed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

struct apmatrix_queue {
	unsigned int apid, apqi;
	int online, config, chkstop;
	const char *driver;		/* interned in the host */
	enum apmatrix_queue_state state;
	pid_t state_pid;
	char *state_text;		/* apmatrix_state as read, NULL if none */
	enum apmatrix_holder holder;
};

struct apmatrix_card {
	unsigned int id;
	char *type;
	const char *driver;		/* interned in the host */
	int hwtype, online, config, chkstop;
	bool seen;			/* has a cardXX directory */
	struct apmatrix_queue *qmap[APM_NIDS];	/* into qblock */
	struct apmatrix_queue *qblock;	/* the queues, one allocation */
	struct apmatrix_queue **queues;
	unsigned int nqueues;
};

struct apmatrix_host {
	unsigned int max_apid, max_apqi;
	apm_bits apmask, aqmask;
	apm_bits cfg[APM_NPARTS];
	struct apmatrix_card *cmap[APM_NIDS];
	struct apmatrix_card **cards;
	unsigned int ncards;
	/* the drivers' names, each once (a host has a handful) */
	char **drivers;
	unsigned int ndrivers;
};

/* what a reader needs: where it is, for messages */
struct reader {
	struct apmatrix_ctx *ctx;
	const char *bus;	/* <root>/bus/ap */
	struct apmatrix_host *host;
	unsigned int what;	/* enum apmatrix_host_read_what */
	const struct apmatrix_apqns *only;	/* NULL: every queue */
	/*
	 * A queue read through its card's directory: attributes are opened
	 * as "XX.YYYY/name" (no directory fd of its own), qlabel names the
	 * queue's directory in messages; qseen once it is known to exist.
	 */
	const char *qpfx, *qlabel;
	bool qseen;
};

/* read_attr(): the queue directory is gone (skipped); its error is set */
#define QGONE	4094
#define QFAILED	4093

static int hex_digits(const char *s, size_t n, unsigned int *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		int h = c >= '0' && c <= '9' ? c - '0' :
			c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (h < 0)
			return -1;
		*v = *v * 16 + h;
	}
	return 0;
}

/* "cardXX": the adapter ID, or -1 */
static int card_name(const char *name)
{
	unsigned int v;

	if (strlen(name) != 6 || strncmp(name, "card", 4) ||
	    hex_digits(name + 4, 2, &v))
		return -1;
	return v;
}

/* "XX.YYYY" */
static bool queue_name(const char *name, unsigned int *a, unsigned int *d)
{
	return strlen(name) == 7 && name[2] == '.' && !hex_digits(name, 2, a) &&
	       !hex_digits(name + 3, 4, d) && *d <= APMATRIX_MAX_ID;
}

/*
 * What read_text() returns (negated) for something that is not a regular
 * file (sysfs attributes are); beyond every errno, read_fail() names it.
 */
#define ENOTREG	4095

/*
 * Read an attribute; strip trailing newlines. Length or -errno.
 *
 * A sysfs attribute gives its whole text in one read(): when the first
 * read() returns less than asked, ends in a newline and holds no NUL, that
 * is the text (openat, read, close: three syscalls). Anything else - an
 * error, nothing, a full buffer, no newline - is looked at closely: fstat()
 * says whether it is a regular file at all (a directory, FIFO or device
 * put there is refused as not one), then the rest is read to the end.
 */
static int read_text(int dirfd, const char *name, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	int fd, err;
	struct stat st;

	/* O_NONBLOCK: a FIFO put there must not hang the reader */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		r = read(fd, buf, len - 1);
	while (r < 0 && errno == EINTR);
	if (r > 0 && (size_t)r < len - 1 && buf[r - 1] == '\n' &&
	    !memchr(buf, '\0', r)) {
		close(fd);
		n = r;
		goto text;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTREG;
	}
	if (r < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	n = r;
	while (r > 0 && n < len - 1) {
		r = read(fd, buf + n, len - 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			close(fd);
			return -err;
		}
		n += r;
	}
	close(fd);
text:
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (strlen(buf) != n)	/* a NUL inside is not sysfs text */
		return -EINVAL;
	return n;
}

static int read_fail(struct reader *r, const char *dir, const char *name,
		     int err);

/*
 * name, or "XX.YYYY/name" for a queue read through its card, into path.
 * Where an open of it fails before anything of the queue was read, the
 * queue's directory is looked at: -QGONE when it is gone meanwhile,
 * -QFAILED (message naming it set) when it cannot be read (a symlink
 * loop, not a directory), else err as it was.
 */
static const char *attr_path(const struct reader *r, const char *name,
			     char *path, size_t len)
{
	if (!r->qpfx)
		return name;
	snprintf(path, len, "%s/%s", r->qpfx, name);
	return path;
}

static int queue_dir_check(struct reader *r, int dirfd, int err)
{
	struct stat st;

	if (!r->qpfx || r->qseen)
		return err;
	if (fstatat(dirfd, r->qpfx, &st, 0))
		return errno == ENOENT ? -QGONE :
		       (read_fail(r, r->qlabel, ".", errno), -QFAILED);
	if (!S_ISDIR(st.st_mode))
		return read_fail(r, r->qlabel, ".", ENOTDIR), -QFAILED;
	r->qseen = true;
	return err;
}

static int read_attr(struct reader *r, int dirfd, const char *name,
		     char *buf, size_t len)
{
	char path[64];
	int n = read_text(dirfd, attr_path(r, name, path, sizeof(path)), buf, len);

	if (n >= 0)
		r->qseen = true;
	else
		n = queue_dir_check(r, dirfd, n);
	return n;
}

/* "%d": false if text is not a decimal int */
static bool parse_int(const char *text, int *v)
{
	char *end;
	long l;

	if (!*text)
		return false;
	errno = 0;
	l = strtol(text, &end, 10);
	if (*end || errno || l < INT_MIN || l > INT_MAX)
		return false;
	*v = l;
	return true;
}

static int read_fail(struct reader *r, const char *dir, const char *name,
		     int err)
{
	bool self = !strcmp(name, ".");
	char e[160];

	if (err == ENOTREG)
		snprintf(e, sizeof(e), "not a regular file (sysfs attributes are)");
	else
		apm_strerror(err, e, sizeof(e));
	return apm_fail(r->ctx, EIO, "reading %s%s%s%s%s: %s", r->bus,
			dir ? "/devices/" : "", dir ? dir : "",
			self ? "" : "/", self ? "" : name, e);
}

/*
 * Read an optional int attribute: *v = dflt when absent. -EINVAL naming
 * the file when malformed, -EIO when unreadable.
 */
static int read_int(struct reader *r, int dirfd, const char *dir,
		    const char *name, int dflt, int *v)
{
	char buf[64];
	int n = read_attr(r, dirfd, name, buf, sizeof(buf));

	if (n == -QGONE || n == -QFAILED)
		return n;
	if (n == -ENOENT) {
		*v = dflt;
		return 0;
	}
	if (n < 0 && n != -EINVAL)
		return read_fail(r, dir, name, -n);
	if (n < 0 || !parse_int(buf, v))
		return apm_fail(r->ctx, EINVAL, "%s%s%s/%s: '%s' is not a number",
				r->bus, dir ? "/devices/" : "", dir ? dir : "",
				name, n < 0 ? "" : buf);
	return 0;
}

/* 0/1 attributes (online, config): -1 when absent */
static int read_bool(struct reader *r, int dirfd, const char *dir,
		     const char *name, int *v)
{
	int rc = read_int(r, dirfd, dir, name, -1, v);

	if (!rc && *v > 1)
		*v = 1;
	if (!rc && *v < -1)
		*v = -1;
	return rc;
}

/*
 * A mask of the bus directory. Returns 1 when read, 0 when absent (or "not
 * supported" and optional), -errno with a message otherwise.
 */
static int read_mask(struct reader *r, int busfd, const char *name,
		     bool optional, apm_bits b)
{
	char buf[128];
	int n = read_text(busfd, name, buf, sizeof(buf));

	if (optional && (n == -ENOENT || (n >= 0 && !strcmp(buf, "not supported"))))
		return 0;
	if (n < 0 && n != -EINVAL)
		return read_fail(r, NULL, name, -n);
	if (n < 0 || apm_bits_from_mask(b, buf))
		return apm_fail(r->ctx, EINVAL,
				"%s/%s: '%s' is not a mask (0x and 64 hex digits)",
				r->bus, name, n < 0 ? "" : buf);
	return 1;
}

static int read_max(struct reader *r, int busfd, const char *name, int dflt,
		    unsigned int *v)
{
	int i, rc;

	rc = read_int(r, busfd, NULL, name, dflt, &i);
	if (rc)
		return rc;
	if (i < 0 || i > APMATRIX_MAX_ID)
		return apm_fail(r->ctx, EINVAL, "%s/%s: %d is not an ID from 0 to 255",
				r->bus, name, i);
	*v = i;
	return 0;
}

static struct apmatrix_card *get_card(struct apmatrix_host *h, unsigned int id)
{
	struct apmatrix_card *c = h->cmap[id];

	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	c->hwtype = -1;
	c->online = -1;
	c->config = -1;
	c->chkstop = -1;
	h->cmap[id] = c;
	return c;
}

/* name, kept once in the host */
static const char *intern(struct apmatrix_host *h, const char *name)
{
	unsigned int i;
	char **n;

	for (i = 0; i < h->ndrivers; i++)
		if (!strcmp(h->drivers[i], name))
			return h->drivers[i];
	n = realloc(h->drivers, (h->ndrivers + 1) * sizeof(*n));
	if (!n)
		return NULL;
	h->drivers = n;
	n[h->ndrivers] = strdup(name);
	return n[h->ndrivers] ? n[h->ndrivers++] : NULL;
}

/* the basename of dirfd's "driver" link in *driver, NULL if it has none */
static int read_driver(struct reader *r, int dirfd, const char *dir,
		       const char **driver)
{
	char link[PATH_MAX];
	const char *base;
	ssize_t n;

	char path[64];
	int err;

	n = readlinkat(dirfd, attr_path(r, "driver", path, sizeof(path)),
		       link, sizeof(link) - 1);
	if (n < 0) {
		err = queue_dir_check(r, dirfd, -errno);
		if (err == -QGONE || err == -QFAILED)
			return err;
		if (err != -ENOENT)
			return read_fail(r, dir, "driver", -err);
		return 0;
	}
	r->qseen = true;
	link[n] = '\0';
	while (n > 1 && link[n - 1] == '/')
		link[--n] = '\0';
	base = strrchr(link, '/');
	*driver = intern(r->host, base ? base + 1 : link);
	if (!*driver)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	return 0;
}

/*
 * config, chkstop and online of a card or queue (-1: absent or not read):
 * all three for APMATRIX_READ_STATUS; for APMATRIX_READ_STATUS_SHOWN only
 * what lszcrypt's STATUS needs. Linux 6.12's zcrypt shows online as
 * "config && !chkstop && online" (zcrypt_card.c, zcrypt_queue.c
 * online_show), so online 1 decides it alone; else config, then chkstop
 * unless deconfigured.
 */
static int read_status(struct reader *r, int fd, const char *dir,
		       const char *driver, int *config, int *chkstop, int *online)
{
	bool all = r->what & APMATRIX_READ_STATUS;
	int rc = 0;

	if (!all && !(r->what & APMATRIX_READ_STATUS_SHOWN))
		return 0;
	/*
	 * online is zcrypt's: a queue bound to no driver, to apmatrix or to
	 * vfio_ap has none (driver "" below: not read yet)
	 */
	if (all || (driver && (!*driver || (strcmp(driver, "apmatrix") &&
					    strcmp(driver, "vfio_ap")))))
		rc = read_bool(r, fd, dir, "online", online);
	if (rc || (!all && *online == 1))
		return rc;
	rc = read_bool(r, fd, dir, "config", config);
	if (!rc && (all || *config != 0))
		rc = read_bool(r, fd, dir, "chkstop", chkstop);
	return rc;
}

static int read_card(struct reader *r, int cardfd, const char *name,
		     struct apmatrix_card *c)
{
	char buf[128];
	int n, rc = 0;

	c->seen = true;
	if (r->what & APMATRIX_READ_TYPE) {
		n = read_text(cardfd, "type", buf, sizeof(buf));
		if (n >= 0) {
			c->type = strdup(buf);
			if (!c->type)
				return apm_fail(r->ctx, ENOMEM, "out of memory");
		} else if (n != -ENOENT) {
			return read_fail(r, name, "type", -n);
		}
	}
	if (r->what & APMATRIX_READ_HWTYPE)
		rc = read_int(r, cardfd, name, "hwtype", -1, &c->hwtype);
	if (!rc)
		rc = read_status(r, cardfd, name, "", &c->config, &c->chkstop,
				 &c->online);
	if (!rc)
		rc = read_driver(r, cardfd, name, &c->driver);
	return rc;
}

/*
 * apmatrix_state of a queue bound to the apmatrix driver: "free",
 * "in use <pid>", "resetting", "reset failed"; absent on other queues.
 */
static int read_state(struct reader *r, int qfd, const char *dir,
		      struct apmatrix_queue *q)
{
	char buf[64], *end;
	long pid;
	int n = read_attr(r, qfd, "apmatrix_state", buf, sizeof(buf));

	q->state = APMATRIX_QSTATE_NONE;
	if (n == -QGONE || n == -QFAILED)
		return n;
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return read_fail(r, dir, "apmatrix_state", -n);
	q->state_text = strdup(buf);
	if (!q->state_text)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	if (!strcmp(buf, "free")) {
		q->state = APMATRIX_QSTATE_FREE;
	} else if (!strcmp(buf, "resetting")) {
		q->state = APMATRIX_QSTATE_RESETTING;
	} else if (!strcmp(buf, "reset failed")) {
		q->state = APMATRIX_QSTATE_RESET_FAILED;
	} else if (!strncmp(buf, "in use ", 7) && buf[7] >= '0' && buf[7] <= '9') {
		errno = 0;
		pid = strtol(buf + 7, &end, 10);
		if (*end || errno || pid <= 0 || pid > INT32_MAX)
			q->state = APMATRIX_QSTATE_OTHER;
		else {
			q->state = APMATRIX_QSTATE_IN_USE;
			q->state_pid = (pid_t)pid;
		}
	} else {
		q->state = APMATRIX_QSTATE_OTHER;	/* a newer kernel's word */
	}
	return 0;
}

/* q (zeroed, its IDs set) from its directory qfd, named dir in messages */
static int read_queue(struct reader *r, int qfd, const char *dir,
		      struct apmatrix_queue *q)
{
	struct apmatrix_host *h = r->host;
	int rc;

	q->online = q->config = q->chkstop = -1;
	if (r->what & APMATRIX_READ_STATUS) {
		rc = read_status(r, qfd, dir, "", &q->config, &q->chkstop,
				 &q->online);
		if (!rc)
			rc = read_driver(r, qfd, dir, &q->driver);
	} else {
		/* the driver first: it says whether there is an online */
		rc = read_driver(r, qfd, dir, &q->driver);
		if (!rc)
			rc = read_status(r, qfd, dir, q->driver, &q->config,
					 &q->chkstop, &q->online);
	}
	/* the attribute of the apmatrix driver: only its queues have it */
	if (!rc && (r->what & APMATRIX_READ_STATE) && q->driver &&
	    !strcmp(q->driver, "apmatrix"))
		rc = read_state(r, qfd, dir, q);
	if (rc)
		return rc;
	if (bits_test(h->apmask, q->apid) && bits_test(h->aqmask, q->apqi))
		q->holder = APMATRIX_HOLDER_HOST;
	else if (!q->driver)
		q->holder = APMATRIX_HOLDER_FREE;
	else if (!strcmp(q->driver, "apmatrix"))
		q->holder = APMATRIX_HOLDER_APMATRIX;
	else
		q->holder = APMATRIX_HOLDER_OTHER;
	return 0;
}

/*
 * Open directory name under dirfd (following a symlink); -ENOENT when it is
 * gone meanwhile (skipped), any other failure an error naming it: an entry
 * that exists and cannot be read, not a card or queue silently left out.
 */
static int open_dir(struct reader *r, int dirfd, const char *name,
		    const char *label)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	if (errno == ENOENT)
		return -ENOENT;
	return read_fail(r, label, ".", errno);
}

/*
 * The names of a directory stream: cards into cards, queues into qs[apid];
 * with only_apid >= 0 only that adapter's queues, into qs[0].
 */
static void scan_names(DIR *dp, apm_bits cards, apm_bits *qs, int only_apid)
{
	struct dirent *de;
	unsigned int a, d;
	int id;

	while ((de = readdir(dp))) {
		if (de->d_name[0] == '.')
			continue;
		if (queue_name(de->d_name, &a, &d)) {
			if (only_apid < 0)
				bits_set(qs[a], d, true);
			else if ((int)a == only_apid)
				bits_set(qs[0], d, true);
		} else if (cards && (id = card_name(de->d_name)) >= 0) {
			bits_set(cards, id, true);
		}
	}
}

/*
 * The queues of adapter a, in bus/ap/devices (indev) or in the card's
 * directory cardfd (incard), each attribute read once: through the card's
 * directory when it is there (as in real sysfs, where bus/ap/devices/
 * XX.YYYY is a symlink to it: no symlink to resolve, no directory fd per
 * queue: "XX.YYYY/online"), else through its own directory fd in
 * bus/ap/devices. Named devices/XX.YYYY in messages when listed there,
 * devices/cardXX/XX.YYYY when only in the card.
 */
static int read_queues(struct reader *r, unsigned int a, int devfd, int cardfd,
		       const apm_bits indev, const apm_bits incard)
{
	struct apmatrix_card *c = r->host->cmap[a];
	unsigned int d, n = 0;
	char name[16], label[32];
	int rc = 0;

	for (d = 0; d < APM_NIDS; d++)
		if (bits_test(indev, d) || bits_test(incard, d))
			n++;
	if (!n)
		return 0;
	c->qblock = calloc(n, sizeof(*c->qblock));
	if (!c->qblock)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	n = 0;
	for (d = 0; !rc && d < APM_NIDS; d++) {
		bool dev = bits_test(indev, d), card = bits_test(incard, d);
		struct apmatrix_queue *q;
		int qfd;

		if (!dev && !card)
			continue;
		snprintf(name, sizeof(name), "%02x.%04x", a, d);
		if (dev)
			snprintf(label, sizeof(label), "%s", name);
		else
			snprintf(label, sizeof(label), "card%02x/%s", a, name);
		if (card) {
			/* its attributes as XX.YYYY/name: no fd of its own */
			qfd = cardfd;
			r->qpfx = name;
			r->qlabel = label;
			r->qseen = false;
		} else {
			qfd = open_dir(r, devfd, name, label);
			if (qfd == -ENOENT)
				continue;		/* gone meanwhile */
			if (qfd < 0)
				return qfd;
		}
		q = &c->qblock[n];
		q->apid = a;
		q->apqi = d;
		rc = read_queue(r, qfd, label, q);
		r->qpfx = NULL;
		if (!card)
			close(qfd);
		if (rc == -QFAILED)
			rc = -EIO;
		if (rc == -QGONE) {		/* gone meanwhile */
			free(q->state_text);
			memset(q, 0, sizeof(*q));
			rc = 0;
			continue;
		}
		c->qmap[d] = q;
		n++;
	}
	if (!n) {		/* all gone meanwhile */
		free(c->qblock);
		c->qblock = NULL;
	}
	return rc;
}

static int read_devices(struct reader *r, int busfd)
{
	struct apmatrix_host *h = r->host;
	apm_bits cards = { 0 }, *qdev, incard;
	const struct apmatrix_apqns *only = r->only;
	unsigned int a, d;
	int devfd, rc = 0;
	DIR *dp;

	devfd = openat(busfd, "devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0) {
		if (errno == ENOENT)
			return 0;	/* no devices at all */
		return read_fail(r, NULL, "devices", errno);
	}
	dp = fdopendir(devfd);
	if (!dp) {
		rc = read_fail(r, NULL, "devices", errno);
		close(devfd);
		return rc;
	}
	qdev = calloc(APM_NIDS, sizeof(*qdev));
	if (!qdev) {
		closedir(dp);
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	}
	/* first the names only: then each card and queue is visited once */
	scan_names(dp, cards, qdev, -1);
	for (a = 0; !rc && a < APM_NIDS; a++) {
		struct apmatrix_card *c;
		char name[8];
		int cardfd = -1;
		DIR *cdp = NULL;

		if (only) {
			/* nothing of an adapter none of whose queues is asked for */
			if (!only->row_count[a])
				continue;
			for (d = 0; d < APM_WORDS; d++)
				qdev[a][d] &= only->row[a][d];
		}
		memset(incard, 0, sizeof(incard));
		if (!bits_test(cards, a) && apm_bits_empty(qdev[a]))
			continue;
		c = get_card(h, a);
		if (!c) {
			rc = apm_fail(r->ctx, ENOMEM, "out of memory");
			break;
		}
		if (bits_test(cards, a)) {
			snprintf(name, sizeof(name), "card%02x", a);
			/* follows the symlink into devices/ap/ */
			cardfd = open_dir(r, dirfd(dp), name, name);
			if (cardfd == -ENOENT)
				cardfd = -1;	/* gone meanwhile */
			else if (cardfd < 0)
				rc = cardfd;
		}
		if (cardfd >= 0) {
			rc = read_card(r, cardfd, name, c);
			cdp = rc ? NULL : fdopendir(cardfd);
			if (!rc && !cdp)
				rc = read_fail(r, name, ".", errno);
			if (cdp) {
				/* the queue directories in the card's (real sysfs has them there too) */
				scan_names(cdp, NULL, &incard, a);
				for (d = 0; only && d < APM_WORDS; d++)
					incard[d] &= only->row[a][d];
				cardfd = dirfd(cdp);
			}
		}
		if (!rc)
			rc = read_queues(r, a, dirfd(dp), cardfd, qdev[a], incard);
		if (cdp)
			closedir(cdp);
		else if (cardfd >= 0)
			close(cardfd);
		if (!c->seen && !c->qblock) {
			/* its directory and its queues' are gone meanwhile */
			h->cmap[a] = NULL;
			free(c);
		}
	}
	free(qdev);
	closedir(dp);
	return rc;
}

/* the sorted arrays, and the configuration masks not given by the bus */
static int finish(struct reader *r, bool have_apm, bool have_aqm)
{
	struct apmatrix_host *h = r->host;
	unsigned int a, d, n = 0;

	h->cards = calloc(APM_NIDS, sizeof(*h->cards));
	if (!h->cards)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	for (a = 0; a < APM_NIDS; a++) {
		struct apmatrix_card *c = h->cmap[a];

		if (!c)
			continue;
		h->cards[n++] = c;
		if (!have_apm && c->config != 0)
			bits_set(h->cfg[APMATRIX_ADAPTERS], a, true);
		c->queues = calloc(APM_NIDS, sizeof(*c->queues));
		if (!c->queues)
			return apm_fail(r->ctx, ENOMEM, "out of memory");
		for (d = 0; d < APM_NIDS; d++) {
			if (!c->qmap[d])
				continue;
			c->queues[c->nqueues++] = c->qmap[d];
			if (!have_aqm)
				bits_set(h->cfg[APMATRIX_DOMAINS], d, true);
		}
	}
	h->ncards = n;
	return 0;
}

int apmatrix_host_read(struct apmatrix_ctx *ctx, struct apmatrix_host **host)
{
	return apmatrix_host_read_some(ctx, APMATRIX_READ_ALL, NULL, host);
}

int apmatrix_host_read_some(struct apmatrix_ctx *ctx, unsigned int what,
			    const struct apmatrix_apqns *only,
			    struct apmatrix_host **host)
{
	struct reader r = { .ctx = ctx, .what = what, .only = only };
	char e[160], *bus = NULL;
	int busfd = -1, rc;
	int have_apm, have_aqm, have_adm;

	apm_clear_error(ctx);
	if (!ctx || !host)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_host_read()");
	if (what & ~(unsigned int)(APMATRIX_READ_ALL | APMATRIX_READ_STATUS_SHOWN))
		return apm_fail(ctx, EINVAL, "apmatrix_host_read_some(): unknown bits 0x%x in what",
				what & ~(unsigned int)(APMATRIX_READ_ALL | APMATRIX_READ_STATUS_SHOWN));
	*host = NULL;
	if (asprintf(&bus, "%s/bus/ap", ctx->sysfs_root) < 0)
		return apm_fail(ctx, ENOMEM, "out of memory");
	r.bus = bus;
	r.host = calloc(1, sizeof(*r.host));
	if (!r.host) {
		rc = apm_fail(ctx, ENOMEM, "out of memory");
		goto out;
	}
	busfd = open(bus, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (busfd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			rc = apm_fail(ctx, ENODEV, "no AP bus at %s (no s390 AP bus here)", bus);
		else
			rc = apm_fail(ctx, EIO, "opening %s: %s", bus,
				      apm_strerror(errno, e, sizeof(e)));
		goto out;
	}
	rc = read_mask(&r, busfd, "apmask", false, r.host->apmask);
	if (rc >= 0)
		rc = read_mask(&r, busfd, "aqmask", false, r.host->aqmask);
	if (rc < 0)
		goto out;
	rc = read_max(&r, busfd, "ap_max_adapter_id", 63, &r.host->max_apid);
	if (!rc)
		rc = read_max(&r, busfd, "ap_max_domain_id", 15, &r.host->max_apqi);
	if (rc)
		goto out;
	have_apm = read_mask(&r, busfd, "ap_adapter_mask", true,
			     r.host->cfg[APMATRIX_ADAPTERS]);
	if (have_apm < 0) {
		rc = have_apm;
		goto out;
	}
	have_aqm = read_mask(&r, busfd, "ap_usage_domain_mask", true,
			     r.host->cfg[APMATRIX_DOMAINS]);
	if (have_aqm < 0) {
		rc = have_aqm;
		goto out;
	}
	have_adm = read_mask(&r, busfd, "ap_control_domain_mask", true,
			     r.host->cfg[APMATRIX_CONTROL_DOMAINS]);
	if (have_adm < 0) {
		rc = have_adm;
		goto out;
	}
	rc = read_devices(&r, busfd);
	if (!rc)
		rc = finish(&r, have_apm, have_aqm);
out:
	if (busfd >= 0)
		close(busfd);
	free(bus);
	if (rc) {
		apmatrix_host_free(r.host);
		return rc;
	}
	*host = r.host;
	return 0;
}

void apmatrix_host_free(struct apmatrix_host *host)
{
	unsigned int a, d;

	if (!host)
		return;
	for (a = 0; a < APM_NIDS; a++) {
		struct apmatrix_card *c = host->cmap[a];

		if (!c)
			continue;
		for (d = 0; d < APM_NIDS; d++)
			if (c->qmap[d])
				free(c->qmap[d]->state_text);
		free(c->qblock);
		free(c->queues);
		free(c->type);
		free(c);
	}
	for (a = 0; a < host->ndrivers; a++)
		free(host->drivers[a]);
	free(host->drivers);
	free(host->cards);
	free(host);
}

unsigned int apmatrix_host_max_adapter_id(const struct apmatrix_host *host)
{
	return host ? host->max_apid : 0;
}

unsigned int apmatrix_host_max_domain_id(const struct apmatrix_host *host)
{
	return host ? host->max_apqi : 0;
}

int apmatrix_host_get_masks(const struct apmatrix_host *host,
			    enum apmatrix_host_masks which,
			    struct apmatrix_matrix *m)
{
	if (!host || !m)
		return -EINVAL;
	switch (which) {
	case APMATRIX_HOST_MASKS:
		memset(m, 0, sizeof(*m));
		memcpy(m->part[APMATRIX_ADAPTERS], host->apmask, sizeof(apm_bits));
		memcpy(m->part[APMATRIX_DOMAINS], host->aqmask, sizeof(apm_bits));
		return 0;
	case APMATRIX_HOST_CONFIG:
		memcpy(m->part, host->cfg, sizeof(m->part));
		return 0;
	}
	return -EINVAL;
}

unsigned int apmatrix_host_num_cards(const struct apmatrix_host *host)
{
	return host ? host->ncards : 0;
}

const struct apmatrix_card *apmatrix_host_card(const struct apmatrix_host *host,
					       unsigned int idx)
{
	if (!host || idx >= host->ncards)
		return NULL;
	return host->cards[idx];
}

const struct apmatrix_queue *apmatrix_host_queue(const struct apmatrix_host *host,
						 unsigned int apid,
						 unsigned int apqi)
{
	if (!host || apid > APMATRIX_MAX_ID || apqi > APMATRIX_MAX_ID ||
	    !host->cmap[apid])
		return NULL;
	return host->cmap[apid]->qmap[apqi];
}

unsigned int apmatrix_card_id(const struct apmatrix_card *card)
{
	return card ? card->id : 0;
}

const char *apmatrix_card_type(const struct apmatrix_card *card)
{
	return card ? card->type : NULL;
}

int apmatrix_card_hwtype(const struct apmatrix_card *card)
{
	return card ? card->hwtype : -1;
}

int apmatrix_card_online(const struct apmatrix_card *card)
{
	return card ? card->online : -1;
}

int apmatrix_card_config(const struct apmatrix_card *card)
{
	return card ? card->config : -1;
}

int apmatrix_card_chkstop(const struct apmatrix_card *card)
{
	return card ? card->chkstop : -1;
}

const char *apmatrix_card_driver(const struct apmatrix_card *card)
{
	return card ? card->driver : NULL;
}

unsigned int apmatrix_card_num_queues(const struct apmatrix_card *card)
{
	return card ? card->nqueues : 0;
}

const struct apmatrix_queue *apmatrix_card_queue(const struct apmatrix_card *card,
						 unsigned int idx)
{
	if (!card || idx >= card->nqueues)
		return NULL;
	return card->queues[idx];
}

unsigned int apmatrix_queue_apid(const struct apmatrix_queue *q)
{
	return q ? q->apid : 0;
}

unsigned int apmatrix_queue_apqi(const struct apmatrix_queue *q)
{
	return q ? q->apqi : 0;
}

int apmatrix_queue_online(const struct apmatrix_queue *q)
{
	return q ? q->online : -1;
}

int apmatrix_queue_config(const struct apmatrix_queue *q)
{
	return q ? q->config : -1;
}

int apmatrix_queue_chkstop(const struct apmatrix_queue *q)
{
	return q ? q->chkstop : -1;
}

const char *apmatrix_queue_driver(const struct apmatrix_queue *q)
{
	return q ? q->driver : NULL;
}

enum apmatrix_queue_state apmatrix_queue_state(const struct apmatrix_queue *q,
						pid_t *pid)
{
	if (pid)
		*pid = q ? q->state_pid : 0;
	return q ? q->state : APMATRIX_QSTATE_NONE;
}

const char *apmatrix_queue_state_text(const struct apmatrix_queue *q)
{
	return q ? q->state_text : NULL;
}

enum apmatrix_holder apmatrix_queue_holder(const struct apmatrix_queue *q)
{
	return q ? q->holder : APMATRIX_HOLDER_FREE;
}

/* ------------------------------------------------------------------------ */

int apm_read_mask_file(struct apmatrix_ctx *ctx, const char *name, apm_bits b)
{
	struct reader r = { .ctx = ctx };
	char *bus = NULL;
	int busfd, rc;

	if (asprintf(&bus, "%s/bus/ap", ctx->sysfs_root) < 0)
		return apm_fail(ctx, ENOMEM, "out of memory");
	r.bus = bus;
	busfd = open(bus, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (busfd < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ?
		     apm_fail(ctx, ENODEV, "no AP bus at %s (no s390 AP bus here)", bus) :
		     read_fail(&r, NULL, ".", errno);
	} else {
		rc = read_mask(&r, busfd, name, false, b);
		close(busfd);
	}
	free(bus);
	return rc < 0 ? rc : 0;
}
