// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * apmatrix-ctl: read the declarative configuration (apmatrix.conf(5)).
 *
 * The syntax is INI and libinih parses it; this file only says what the
 * sections and keys mean and checks their values. libinih's reader hook
 * (ini_parse_stream) lets us count lines, so every problem names its file
 * and line; every problem is collected, not only the first.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"

#define SET_NAME_MAX 40		/* libinih keeps 50 bytes of a section name */
#define CONF_MAX_ERRORS 50
/* a file larger than this is refused (the 10,000-set example is 450 kB) */
#define CONF_MAX_SIZE (4 * 1024 * 1024)

struct parse {
	struct apm_conf *conf;
	struct apm_conf_errors *errs;
	struct apmatrix_ctx *ctx;	/* for the library's parsers' messages */
	FILE *f;
	const char *file;
	int line;			/* of the line the reader gave last */
	int max_line;			/* libinih's line limit */
	char *buf;			/* getline buffer */
	size_t buflen;
	/* the last [section] header the reader saw */
	char section[64];
	int section_line;
	struct apm_conf_set *set;	/* the current [set NAME], or NULL */
	bool in_guests, in_device, bad_section;
};

static void __attribute__((format(printf, 3, 4)))
conf_err(struct apm_conf_errors *errs, const struct apm_conf_loc *at,
	 const char *fmt, ...)
{
	char *msg = NULL, *line = NULL, **n;
	va_list ap;
	int rc;

	if (errs->n >= CONF_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return;
	if (errs->n == CONF_MAX_ERRORS - 1)
		rc = asprintf(&line, "%s: more problems follow; fix these first",
			      at && at->file ? at->file : "configuration");
	else if (at && at->file && at->line > 0)
		rc = asprintf(&line, "%s:%d: %s", at->file, at->line, msg);
	else if (at && at->file)
		rc = asprintf(&line, "%s: %s", at->file, msg);
	else
		rc = asprintf(&line, "%s", msg);
	free(msg);
	if (rc < 0)
		return;
	n = realloc(errs->msg, (errs->n + 1) * sizeof(*n));
	if (!n) {
		free(line);
		return;
	}
	errs->msg = n;
	errs->msg[errs->n++] = line;
}

static struct apm_conf_loc here(const struct parse *p)
{
	return (struct apm_conf_loc){ .file = p->file, .line = p->line };
}

#define PERR(p, ...) do {						\
		struct apm_conf_loc _at = here(p);			\
		conf_err((p)->errs, &_at, __VA_ARGS__);			\
	} while (0)

/* The library's message for a failed parse, without its own quoting. */
static const char *libmsg(const struct parse *p)
{
	const char *m = apmatrix_ctx_last_error(p->ctx);

	return m && *m ? m : "cannot be parsed";
}

static bool valid_set_name(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return n > 0 && n <= SET_NAME_MAX;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A new [section] header (seen by the reader, so empty sections count). */
static void begin_section(struct parse *p, const char *name)
{
	struct apm_conf *c = p->conf;
	struct apm_conf_set *sets;
	const char *setname;
	size_t i;

	p->set = NULL;
	p->in_guests = p->in_device = p->bad_section = false;
	if (!strcmp(name, "guests")) {
		p->in_guests = true;
		if (!c->guests)
			c->guests_where = here(p);
		c->guests = true;
		return;
	}
	if (!strcmp(name, "device")) {
		p->in_device = true;
		c->device = true;
		return;
	}
	if (strncmp(name, "set", 3) || !isspace((unsigned char)name[3])) {
		PERR(p, "unknown section [%s] (sections: [guests], [device], [set NAME])",
		     name);
		p->bad_section = true;
		return;
	}
	setname = name + 3;
	while (isspace((unsigned char)*setname))
		setname++;
	if (!valid_set_name(setname)) {
		PERR(p, "bad set name '%s': 1 to %d letters, digits, '-', '_' or '.'",
		     setname, SET_NAME_MAX);
		p->bad_section = true;
		return;
	}
	for (i = 0; i < c->nsets; i++) {
		if (!strcmp(c->sets[i].name, setname)) {
			PERR(p, "set '%s' is defined twice (first at %s:%d)", setname,
			     c->sets[i].where.file, c->sets[i].where.line);
			p->bad_section = true;
			return;
		}
	}
	sets = realloc(c->sets, (c->nsets + 1) * sizeof(*sets));
	if (!sets) {
		PERR(p, "out of memory");
		p->bad_section = true;
		return;
	}
	c->sets = sets;
	p->set = &c->sets[c->nsets];
	memset(p->set, 0, sizeof(*p->set));
	p->set->name = strdup(setname);
	p->set->m = apmatrix_matrix_new();
	p->set->where = here(p);
	c->nsets++;
	if (!p->set->name || !p->set->m)
		PERR(p, "out of memory");
}

/*
 * libinih's reader: one line per call, counted. Over-long lines are
 * refused here (libinih would cut them silently) and handed on as a
 * comment.
 */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	ssize_t n = getline(&p->buf, &p->buflen, p->f);
	char *t;

	if (n < 0)
		return NULL;
	p->line++;
	p->max_line = num;
	if (n >= num) {
		PERR(p, "line is longer than %d characters", num - 2);
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	if (memchr(p->buf, '\0', (size_t)n)) {
		/* libinih would read only up to it and drop the rest unseen */
		PERR(p, "a NUL byte in the line: not text");
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	t = p->buf;
	/* a UTF-8 byte order mark: libinih skips it, so must the section check */
	if (p->line == 1 && !strncmp(t, "\xef\xbb\xbf", 3))
		t += 3;
	/*
	 * libinih without the leading blanks: to it an indented line after a
	 * key continues that key's value, so an indented "control-domains =
	 * 0b" became a second apqns value ("apqns given twice"), and a stray
	 * indented "07" silently another adapter.
	 */
	while (isspace((unsigned char)*t) && *t != '\n')
		t++;
	memcpy(str, t, strlen(t) + 1);
	t = trim(t);
	if (*t && *t != '[' && *t != '#' && *t != ';' && !strpbrk(t, "=:")) {
		/* libinih reports only the first such line; every one is */
		PERR(p, "not a 'key = value' line, a [section] header or a comment");
		snprintf(str, (size_t)num, "#\n");
		return str;
	}
	if (*t == '[') {
		char *end = strchr(t, ']');

		if (end && !end[1]) {
			*end = '\0';
			snprintf(p->section, sizeof(p->section), "%s", trim(t + 1));
			p->section_line = p->line;
			begin_section(p, p->section);
		} else {
			PERR(p, "a section header is '[NAME]' alone on its line");
			p->bad_section = true;
			p->set = NULL;
			p->in_guests = p->in_device = false;
			snprintf(str, (size_t)num, "#\n");
		}
	}
	return str;
}

static void guests_key(struct parse *p, const char *name, const char *value)
{
	struct apm_conf *c = p->conf;
	enum apmatrix_part part;
	struct apmatrix_matrix *m;
	struct apm_conf_loc *at;
	unsigned int id;

	if (!strcmp(name, "adapters")) {
		part = APMATRIX_ADAPTERS;
		at = c->adapter_at;
	} else if (!strcmp(name, "domains")) {
		part = APMATRIX_DOMAINS;
		at = c->domain_at;
	} else {
		PERR(p, "unknown key '%s' in [guests] (keys: adapters, domains)", name);
		return;
	}
	m = apmatrix_matrix_new();
	if (!m) {
		PERR(p, "out of memory");
		return;
	}
	if (apmatrix_matrix_parse_ids(p->ctx, m, part, value) < 0) {
		PERR(p, "%s: %s", name, libmsg(p));
	} else {
		/* several lines and files add up */
		for (id = 0; id <= APMATRIX_MAX_ID; id++) {
			if (!apmatrix_matrix_test(m, part, id))
				continue;
			apmatrix_matrix_set(c->take, part, id, true);
			if (!at[id].line)
				at[id] = here(p);
		}
	}
	apmatrix_matrix_free(m);
}

static bool once(struct parse *p, struct apm_conf_loc *at, const char *what)
{
	if (at->line) {
		PERR(p, "%s given twice (first at %s:%d)", what, at->file, at->line);
		return false;
	}
	*at = here(p);
	return true;
}

static void device_key(struct parse *p, const char *name, const char *value)
{
	struct apm_conf *c = p->conf;
	struct group *gr;
	char *end;
	long v;

	if (!strcmp(name, "group")) {
		if (!once(p, &c->group_at, "[device] group"))
			return;
		if (!*value) {
			PERR(p, "group: empty (give a group name or number)");
			return;
		}
		errno = 0;
		v = strtol(value, &end, 10);
		if (isdigit((unsigned char)*value) && !*end && !errno && v >= 0 &&
		    v < INT_MAX) {
			c->gid = (gid_t)v;
		} else {
			gr = getgrnam(value);
			if (!gr) {
				PERR(p, "group '%s': no such group on this system", value);
				return;
			}
			c->gid = gr->gr_gid;
		}
		c->group = strdup(value);
		if (!c->group)
			PERR(p, "out of memory");
	} else if (!strcmp(name, "mode")) {
		if (!once(p, &c->mode_at, "[device] mode"))
			return;
		errno = 0;
		v = strtol(value, &end, 8);
		if (!*value || *value == '-' || *value == '+' || *end || errno ||
		    v < 0 || v > 07777) {
			PERR(p, "mode '%s': not an octal mode such as 0660", value);
			return;
		}
		if (v & ~0660L) {
			PERR(p, "mode %04lo: only read and write for owner and group "
			     "(0600, 0660, 0640 ...); anyone who can open /dev/apmatrix "
			     "for writing can create grants, so give access through a group",
			     (unsigned long)v);
			return;
		}
		c->mode = (mode_t)v;
	} else {
		PERR(p, "unknown key '%s' in [device] (keys: group, mode)", name);
	}
}

static void set_key(struct parse *p, const char *name, const char *value)
{
	struct apm_conf_set *s = p->set;
	struct apmatrix_apqns *missing;

	if (!strcmp(name, "apqns")) {
		if (!once(p, &s->apqns, "apqns of this set"))
			return;
		missing = apmatrix_apqns_new();
		if (!missing) {
			PERR(p, "out of memory");
			return;
		}
		if (apmatrix_matrix_parse_apqns(p->ctx, s->m, value, missing) < 0) {
			PERR(p, "apqns: %s", libmsg(p));
		} else if (apmatrix_matrix_count(s->m, APMATRIX_ADAPTERS) == 0) {
			PERR(p, "apqns: empty; a set needs at least one queue");
		}
		apmatrix_apqns_free(missing);
	} else if (!strcmp(name, "control-domains")) {
		if (!once(p, &s->control, "control-domains of this set"))
			return;
		if (apmatrix_matrix_parse_ids(p->ctx, s->m, APMATRIX_CONTROL_DOMAINS,
					      value) < 0)
			PERR(p, "control-domains: %s", libmsg(p));
	} else {
		PERR(p, "unknown key '%s' in [set %s] (keys: apqns, control-domains)",
		     name, s->name);
	}
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *p = user;

	(void)section;		/* the reader tracked it, empty sections too */
	if (p->bad_section)
		return 1;	/* said once, at the header */
	if (p->in_guests)
		guests_key(p, name, value);
	else if (p->in_device)
		device_key(p, name, value);
	else if (p->set)
		set_key(p, name, value);
	else
		PERR(p, "'%s' is outside any section (put it under [guests], [device] or [set NAME])",
		     name);
	return 1;	/* go on: every problem is reported */
}

/*
 * Open one configuration file for reading, refusing what would make apply
 * (run by root, at boot) hang, eat memory or obey someone else: not a
 * regular file (a FIFO would block forever, /dev/zero never ends), larger
 * than CONF_MAX_SIZE, or writable by users other than its owner and root
 * (world-writable, or owned by another user than root or the caller).
 * O_NONBLOCK: open() of a FIFO must not wait for a writer.
 */
static int open_conf_file(struct apm_conf_errors *errs, const char *file, FILE **f)
{
	struct apm_conf_loc at = { .file = file };
	struct stat st;
	int fd, err;

	*f = NULL;
	fd = open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		conf_err(errs, &at, "cannot read: %s", strerror(err));
		return -err;
	}
	if (fstat(fd, &st)) {
		err = errno;
		conf_err(errs, &at, "cannot read: %s", strerror(err));
		close(fd);
		return -err;
	}
	err = EINVAL;
	if (!S_ISREG(st.st_mode)) {
		conf_err(errs, &at, "not a regular file (%s): refused",
			 S_ISDIR(st.st_mode) ? "a directory" :
			 S_ISFIFO(st.st_mode) ? "a FIFO" :
			 S_ISCHR(st.st_mode) ? "a character device" :
			 S_ISBLK(st.st_mode) ? "a block device" :
			 S_ISSOCK(st.st_mode) ? "a socket" : "not a file");
	} else if (st.st_size > CONF_MAX_SIZE) {
		conf_err(errs, &at, "%lld bytes: larger than %d bytes, refused",
			 (long long)st.st_size, CONF_MAX_SIZE);
	} else if (st.st_mode & S_IWOTH) {
		conf_err(errs, &at,
			 "writable by every user (mode %04o): anyone could change what apply does; refused (chmod o-w)",
			 (unsigned int)(st.st_mode & 07777));
	} else if (st.st_uid != 0 && st.st_uid != geteuid()) {
		conf_err(errs, &at,
			 "owned by uid %u, neither root nor the caller (uid %u): refused",
			 (unsigned int)st.st_uid, (unsigned int)geteuid());
	} else {
		err = 0;
	}
	if (!err && fcntl(fd, F_SETFL, 0) < 0) {
		err = errno;
		conf_err(errs, &at, "cannot read: %s", strerror(err));
	}
	if (!err) {
		*f = fdopen(fd, "r");
		if (!*f) {
			err = errno;
			conf_err(errs, &at, "cannot read: %s", strerror(err));
		}
	}
	if (err) {
		close(fd);
		return -err;
	}
	return 0;
}

static int parse_file(struct apm_conf *c, struct apm_conf_errors *errs,
		      struct apmatrix_ctx *ctx, const char *file)
{
	struct parse p = { .conf = c, .errs = errs, .ctx = ctx, .file = file };
	size_t before = errs->n;
	int rc;

	rc = open_conf_file(errs, file, &p.f);
	if (rc)
		return rc;
	rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc > 0) {
		/* a line libinih could not read; the handler says the rest */
		conf_err(errs, &(struct apm_conf_loc){ .file = file, .line = rc },
			 "not a 'key = value' line, a [section] header or a comment");
	} else if (rc < 0) {
		conf_err(errs, &(struct apm_conf_loc){ .file = file },
			 "libinih could not parse the file (error %d)", rc);
	}
	if (ferror(p.f))
		conf_err(errs, &(struct apm_conf_loc){ .file = file }, "read error");
	fclose(p.f);
	free(p.buf);
	/* a [set NAME] without apqns */
	return errs->n > before ? -EINVAL : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(struct apm_conf *c, char *path)
{
	char **n = realloc(c->files, (c->nfiles + 1) * sizeof(*n));

	if (!n) {
		free(path);
		return -ENOMEM;
	}
	c->files = n;
	c->files[c->nfiles++] = path;
	return 0;
}

/* DIR/apmatrix.conf, then DIR/conf.d/ *.conf in C-locale order. */
static int find_files(struct apm_conf *c, struct apm_conf_errors *errs)
{
	struct apm_conf_loc at = { .file = c->dir };
	char *path = NULL, *d = NULL, **names = NULL;
	size_t n = 0, i;
	struct dirent *e;
	struct stat st;
	DIR *dir;
	int rc = 0;

	errno = 0;
	if (stat(c->dir, &st) || !S_ISDIR(st.st_mode)) {
		conf_err(errs, &at, "no configuration directory: %s",
			 errno ? strerror(errno) : "not a directory");
		return -ENOENT;
	}
	if (asprintf(&path, "%s/apmatrix.conf", c->dir) < 0)
		return -ENOMEM;
	/* lstat: a dangling symlink is named (open says why), not skipped */
	if (lstat(path, &st) == 0) {
		rc = add_file(c, path);
		if (rc)
			return rc;
	} else {
		free(path);
	}
	if (asprintf(&d, "%s/conf.d", c->dir) < 0)
		return -ENOMEM;
	dir = opendir(d);
	if (dir) {
		while ((e = readdir(dir))) {
			size_t l = strlen(e->d_name);
			char **nn;

			if (e->d_name[0] == '.' || l < 6 ||
			    strcmp(e->d_name + l - 5, ".conf"))
				continue;
			nn = realloc(names, (n + 1) * sizeof(*nn));
			if (!nn || !(nn[n] = strdup(e->d_name))) {
				free(nn ? nn : names);
				names = NULL;
				n = 0;
				rc = -ENOMEM;
				break;
			}
			names = nn;
			n++;
		}
		closedir(dir);
		qsort(names, n, sizeof(*names), cmp_str);
		for (i = 0; i < n; i++) {
			if (!rc) {
				if (asprintf(&path, "%s/%s", d, names[i]) < 0)
					rc = -ENOMEM;
				else
					rc = add_file(c, path);
			}
			free(names[i]);
		}
		free(names);
	}
	free(d);
	if (!rc && !c->nfiles) {
		conf_err(errs, &at, "no configuration: neither apmatrix.conf nor conf.d/*.conf");
		rc = -ENOENT;
	}
	return rc;
}

/* Checks that need the whole configuration (every file read). */
static void check_whole(struct apm_conf *c, struct apm_conf_errors *errs)
{
	unsigned int a, d, k;
	size_t j;

	for (j = 0; j < c->nsets; j++) {
		struct apm_conf_set *set = &c->sets[j];
		char bad[96];
		int nb = 0;

		if (!set->apqns.line) {
			conf_err(errs, &set->where, "set '%s' has no apqns", set->name);
			continue;
		}
		/*
		 * every queue of a set must be one the config sets aside: its
		 * adapter or its domain is in [guests] (bit tests, no list of
		 * the set's queues: a set may have 65536 of them)
		 */
		bad[0] = '\0';
		k = 0;
		for (a = 0; a <= APMATRIX_MAX_ID; a++) {
			if (!apmatrix_matrix_test(set->m, APMATRIX_ADAPTERS, a) ||
			    (c->guests && apmatrix_matrix_test(c->take, APMATRIX_ADAPTERS, a)))
				continue;
			for (d = 0; d <= APMATRIX_MAX_ID; d++) {
				if (!apmatrix_matrix_test(set->m, APMATRIX_DOMAINS, d) ||
				    (c->guests && apmatrix_matrix_test(c->take, APMATRIX_DOMAINS, d)))
					continue;
				if (k++ < 4)
					nb += snprintf(bad + nb, sizeof(bad) - (size_t)nb, "%s%02x.%04x",
						       k > 1 ? "," : "", a, d);
			}
		}
		if (k)
			conf_err(errs, &set->apqns,
				 "set '%s': %s%s %s not set aside for guests (add %s to [guests] adapters or domains)",
				 set->name, bad, k > 4 ? ",..." : "", k > 1 ? "are" : "is",
				 k > 1 ? "their adapters or domains" : "its adapter or domain");
	}
	if (c->device && c->mode_at.line && !c->group_at.line && (c->mode & 0070))
		conf_err(errs, &c->mode_at,
			 "mode %04o gives the group access, but [device] names no group",
			 (unsigned int)c->mode);
}

const char *apm_conf_default_dir(void)
{
	const char *d = secure_getenv("APMATRIX_CONFIG_DIR");

	return d && *d ? d : APM_CONF_DIR;
}

int apm_conf_load(const char *dir, struct apm_conf **conf,
		  struct apm_conf_errors *errs)
{
	struct apmatrix_ctx *ctx = NULL;
	struct apm_conf *c;
	size_t i;
	int rc;

	*conf = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mode = 0600;
	c->dir = strdup(dir ? dir : apm_conf_default_dir());
	c->take = apmatrix_matrix_new();
	ctx = apmatrix_ctx_new();
	if (!c->dir || !c->take || !ctx) {
		rc = -ENOMEM;
		conf_err(errs, NULL, "out of memory");
		goto fail;
	}
	rc = find_files(c, errs);
	if (rc)
		goto fail;
	for (i = 0; i < c->nfiles; i++)
		parse_file(c, errs, ctx, c->files[i]);
	check_whole(c, errs);
	if (errs->n) {
		rc = -EINVAL;
		goto fail;
	}
	apmatrix_ctx_free(ctx);
	*conf = c;
	return 0;
fail:
	apmatrix_ctx_free(ctx);
	apm_conf_free(c);
	return rc;
}

void apm_conf_free(struct apm_conf *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nsets; i++) {
		free(c->sets[i].name);
		apmatrix_matrix_free(c->sets[i].m);
	}
	free(c->sets);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	apmatrix_matrix_free(c->take);
	free(c->group);
	free(c->dir);
	free(c);
}

void apm_conf_errors_free(struct apm_conf_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

const struct apm_conf_set *apm_conf_find_set(const struct apm_conf *conf,
					     const char *name)
{
	size_t i;

	for (i = 0; conf && i < conf->nsets; i++)
		if (!strcmp(conf->sets[i].name, name))
			return &conf->sets[i];
	return NULL;
}
