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
	char *driver;
	enum apmatrix_queue_state state;
	pid_t state_pid;
	char *state_text;		/* apmatrix_state as read, NULL if none */
	enum apmatrix_holder holder;
};

struct apmatrix_card {
	unsigned int id;
	char *type;
	char *driver;
	int hwtype, online, config, chkstop;
	bool seen;			/* has a cardXX directory */
	struct apmatrix_queue *qmap[APM_NIDS];
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
};

/* what a reader needs: where it is, for messages */
struct reader {
	struct apmatrix_ctx *ctx;
	const char *bus;	/* <root>/bus/ap */
	struct apmatrix_host *host;
};

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

/* Read an attribute; strip trailing newlines. Length or -errno. */
static int read_text(int dirfd, const char *name, char *buf, size_t len)
{
	size_t n = 0;
	int fd, err;

	struct stat st;

	/* O_NONBLOCK: a FIFO put there must not hang the reader */
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOTREG;
	}
	while (n < len - 1) {
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			close(fd);
			return -err;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (strlen(buf) != n)	/* a NUL inside is not sysfs text */
		return -EINVAL;
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
	int n = read_text(dirfd, name, buf, sizeof(buf));

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

/* the basename of dirfd's "driver" link in *driver, NULL if it has none */
static int read_driver(struct reader *r, int dirfd, const char *dir,
		       char **driver)
{
	char link[PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlinkat(dirfd, "driver", link, sizeof(link) - 1);
	if (n < 0 && errno != ENOENT)
		return read_fail(r, dir, "driver", errno);
	if (n < 0)
		return 0;
	link[n] = '\0';
	while (n > 1 && link[n - 1] == '/')
		link[--n] = '\0';
	base = strrchr(link, '/');
	*driver = strdup(base ? base + 1 : link);
	if (!*driver)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	return 0;
}

static int read_card(struct reader *r, int cardfd, const char *name,
		     struct apmatrix_card *c)
{
	char buf[128];
	int n, rc;

	c->seen = true;
	n = read_text(cardfd, "type", buf, sizeof(buf));
	if (n >= 0) {
		free(c->type);
		c->type = strdup(buf);
		if (!c->type)
			return apm_fail(r->ctx, ENOMEM, "out of memory");
	} else if (n != -ENOENT) {
		return read_fail(r, name, "type", -n);
	}
	rc = read_int(r, cardfd, name, "hwtype", -1, &c->hwtype);
	if (!rc)
		rc = read_bool(r, cardfd, name, "online", &c->online);
	if (!rc)
		rc = read_bool(r, cardfd, name, "config", &c->config);
	if (!rc)
		rc = read_bool(r, cardfd, name, "chkstop", &c->chkstop);
	if (!rc && !c->driver)
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
	int n = read_text(qfd, "apmatrix_state", buf, sizeof(buf));

	q->state = APMATRIX_QSTATE_NONE;
	if (n == -ENOENT)
		return 0;
	if (n == -EACCES) {
		/* the attribute is root only (0400): it names the VMM */
		q->state = APMATRIX_QSTATE_OTHER;
		q->state_text = strdup("unknown: readable by root only");
		return q->state_text ? 0 : apm_fail(r->ctx, ENOMEM, "out of memory");
	}
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

static int read_queue(struct reader *r, int qfd, const char *dir,
		      unsigned int a, unsigned int d)
{
	struct apmatrix_host *h = r->host;
	struct apmatrix_card *c = get_card(h, a);
	struct apmatrix_queue *q;
	int rc;

	if (!c)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	if (c->qmap[d])		/* seen both under devices/ and under its card */
		return 0;
	q = calloc(1, sizeof(*q));
	if (!q)
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	c->qmap[d] = q;
	q->apid = a;
	q->apqi = d;
	rc = read_bool(r, qfd, dir, "online", &q->online);
	if (!rc)
		rc = read_bool(r, qfd, dir, "config", &q->config);
	if (!rc)
		rc = read_bool(r, qfd, dir, "chkstop", &q->chkstop);
	if (!rc)
		rc = read_driver(r, qfd, dir, &q->driver);
	if (!rc)
		rc = read_state(r, qfd, dir, q);
	if (rc)
		return rc;
	if (bits_test(h->apmask, a) && bits_test(h->aqmask, d))
		q->holder = APMATRIX_HOLDER_HOST;
	else if (!q->driver)
		q->holder = APMATRIX_HOLDER_FREE;
	else if (!strcmp(q->driver, "apmatrix"))
		q->holder = APMATRIX_HOLDER_APMATRIX;
	else
		q->holder = APMATRIX_HOLDER_OTHER;
	return 0;
}

/* the queue directories inside a card directory (real sysfs has them there too) */
static int read_card_queues(struct reader *r, int cardfd, const char *cname,
			    unsigned int id)
{
	struct dirent *de;
	unsigned int a, d;
	char dir[2 * NAME_MAX + 2];
	DIR *dp;
	int fd, rc = 0;

	fd = openat(cardfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return read_fail(r, cname, ".", errno);
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return apm_fail(r->ctx, ENOMEM, "out of memory");
	}
	while (!rc && (de = readdir(dp))) {
		int qfd;

		if (!queue_name(de->d_name, &a, &d) || a != id)
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", cname, de->d_name);
		qfd = openat(cardfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (qfd < 0) {
			if (errno == ENOENT)
				continue;	/* gone meanwhile */
			rc = read_fail(r, dir, ".", errno);
			break;
		}
		rc = read_queue(r, qfd, dir, a, d);
		close(qfd);
	}
	closedir(dp);
	return rc;
}

static int read_devices(struct reader *r, int busfd)
{
	struct dirent *de;
	unsigned int a, d;
	DIR *dp;
	int devfd, fd, id, rc = 0;

	devfd = openat(busfd, "devices", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (devfd < 0) {
		if (errno == ENOENT)
			return 0;	/* no devices at all */
		return read_fail(r, NULL, "devices", errno);
	}
	fd = fcntl(devfd, F_DUPFD_CLOEXEC, 0);
	dp = fd < 0 ? NULL : fdopendir(fd);
	if (!dp) {
		rc = read_fail(r, NULL, "devices", errno);
		if (fd >= 0)
			close(fd);
		close(devfd);
		return rc;
	}
	while (!rc && (de = readdir(dp))) {
		int dfd;

		id = card_name(de->d_name);
		if (id < 0 && !queue_name(de->d_name, &a, &d))
			continue;
		/* follows the symlink into devices/ap/ */
		dfd = openat(devfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0) {
			/*
			 * Gone meanwhile: skip it. Anything else (no access,
			 * a symlink loop, not a directory) is an entry that
			 * exists and cannot be read: an error naming it, not
			 * a card or queue silently left out.
			 */
			if (errno == ENOENT)
				continue;
			rc = read_fail(r, de->d_name, ".", errno);
			break;
		}
		if (id >= 0) {
			struct apmatrix_card *c = get_card(r->host, id);

			rc = c ? read_card(r, dfd, de->d_name, c) :
				 apm_fail(r->ctx, ENOMEM, "out of memory");
			if (!rc)
				rc = read_card_queues(r, dfd, de->d_name, id);
		} else {
			rc = read_queue(r, dfd, de->d_name, a, d);
		}
		close(dfd);
	}
	closedir(dp);
	close(devfd);
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
	struct reader r = { .ctx = ctx };
	char e[160], *bus = NULL;
	int busfd = -1, rc;
	int have_apm, have_aqm, have_adm;

	apm_clear_error(ctx);
	if (!ctx || !host)
		return apm_fail(ctx, EINVAL, "bad arguments to apmatrix_host_read()");
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
		for (d = 0; d < APM_NIDS; d++) {
			if (c->qmap[d]) {
				free(c->qmap[d]->driver);
				free(c->qmap[d]->state_text);
				free(c->qmap[d]);
			}
		}
		free(c->queues);
		free(c->type);
		free(c->driver);
		free(c);
	}
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
