/*
 * The configuration engine (see config.h for the sources and their order).
 *
 * A struct config holds one slot per key of the tables it was built from
 * (the common table and the daemon's own); duplicate names are a
 * programming error caught at startup. Values are kept as strings and
 * checked against their type when loaded; typed getters then cannot fail.
 * Asking for a key that no table declares is a broken invariant (fatalx).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "xmalloc.h"

struct config_slot {
	const struct config_key *key;
	char *value;
	enum config_source source;
	long num;
	bool flag;
};

struct config {
	struct config_slot *slots;
	size_t nslots;
	char **problems;
	size_t nproblems;
	const char *file; /* for messages, borrowed during load */
};

static const char *const config_source_names[] = {
    "unset", "default", "file", "environment", "secret file", "credential"};

static void config_addproblem(struct config *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
config_addproblem(struct config *cfg, const char *fmt, ...)
{
	va_list ap;
	char *p = NULL;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		p = NULL;
	va_end(ap);
	if (p == NULL)
		return;
	cfg->problems = xreallocarray(
	    cfg->problems, cfg->nproblems + 1, sizeof(*cfg->problems));
	cfg->problems[cfg->nproblems++] = p;
}

struct config *
config_new(const struct config_key *const *tables)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));

	for (size_t t = 0; tables[t] != NULL; t++) {
		for (const struct config_key *k = tables[t]; k->name; k++) {
			for (size_t i = 0; i < cfg->nslots; i++)
				if (strcmp(cfg->slots[i].key->name, k->name) ==
				    0)
					fatalx("config key %s declared twice",
					    k->name);
			cfg->slots = xreallocarray(
			    cfg->slots, cfg->nslots + 1, sizeof(*cfg->slots));
			memset(
			    &cfg->slots[cfg->nslots], 0, sizeof(*cfg->slots));
			cfg->slots[cfg->nslots++].key = k;
		}
	}
	return cfg;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nslots; i++) {
		if (cfg->slots[i].value &&
		    (cfg->slots[i].key->flags & CONFIG_SECRET))
			explicit_bzero(
			    cfg->slots[i].value, strlen(cfg->slots[i].value));
		free(cfg->slots[i].value);
	}
	for (size_t i = 0; i < cfg->nproblems; i++)
		free(cfg->problems[i]);
	free(cfg->problems);
	free(cfg->slots);
	free(cfg);
}

static struct config_slot *
config_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nslots; i++)
		if (strcmp(cfg->slots[i].key->name, name) == 0)
			return &cfg->slots[i];
	return NULL;
}

static struct config_slot *
config_must(const struct config *cfg, const char *name)
{
	struct config_slot *s = config_find(cfg, name);

	if (s == NULL)
		fatalx("config key %s is not declared by any table", name);
	return s;
}

static void
config_set(struct config_slot *s, const char *value, enum config_source src)
{
	free(s->value);
	s->value = value ? xstrdup(value) : NULL;
	s->source = value ? src : CONFIG_SRC_UNSET;
}

int
config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static bool
config_key_is_valid(const char *k)
{
	if (!(isupper((unsigned char)*k) || *k == '_'))
		return false;
	for (; *k; k++)
		if (!(isupper((unsigned char)*k) ||
			isdigit((unsigned char)*k) || *k == '_'))
			return false;
	return true;
}

/*
 * Parse a KEY=VALUE buffer: one setting per line, '#' comments and blank
 * lines ignored, an optional leading "export ", whitespace around the key
 * and the value trimmed, one pair of matching quotes around the value
 * removed. Call line_cb for each setting and err_cb for each bad line;
 * return the number of bad lines.
 */
int
config_parse_buf(const char *buf, size_t len,
    void (*line_cb)(const char *, const char *, size_t, void *),
    void (*err_cb)(size_t, const char *, void *), void *arg)
{
	size_t off = 0, lineno = 0;
	int bad = 0;
	char *line = xmalloc(CONFIG_LINE_MAX + 1);

	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (buf + off)) : len - off;
		char *p, *eq, *key, *val, *end;

		lineno++;
		if (l > CONFIG_LINE_MAX) {
			err_cb(lineno, "line too long", arg);
			bad++;
			off += l + 1;
			continue;
		}
		memcpy(line, buf + off, l);
		line[l] = '\0';
		off += l + 1;
		if (memchr(line, '\0', l) != NULL) {
			err_cb(lineno, "NUL byte in line", arg);
			bad++;
			continue;
		}
		p = line;
		while (isspace((unsigned char)*p))
			p++;
		end = p + strlen(p);
		while (end > p && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		eq = strchr(p, '=');
		if (eq == NULL) {
			err_cb(lineno, "expected KEY=VALUE", arg);
			bad++;
			continue;
		}
		*eq = '\0';
		key = p;
		end = eq;
		while (end > key && isspace((unsigned char)end[-1]))
			*--end = '\0';
		while (isspace((unsigned char)*key))
			key++;
		if (!config_key_is_valid(key)) {
			err_cb(lineno, "invalid key name", arg);
			bad++;
			continue;
		}
		val = eq + 1;
		while (isspace((unsigned char)*val))
			val++;
		l = strlen(val);
		if (l >= 2 && (val[0] == '"' || val[0] == '\'') &&
		    val[l - 1] == val[0]) {
			val[l - 1] = '\0';
			val++;
		} else if (l >= 1 && (val[0] == '"' || val[0] == '\'')) {
			err_cb(lineno, "unterminated quote", arg);
			bad++;
			continue;
		}
		line_cb(key, val, lineno, arg);
	}
	free(line);
	return bad;
}

static void
config_file_line(const char *key, const char *value, size_t lineno, void *arg)
{
	struct config *cfg = arg;
	struct config_slot *s = config_find(cfg, key);

	(void)lineno;
	if (s != NULL)
		config_set(s, value, CONFIG_SRC_FILE);
}

static void
config_file_err(size_t lineno, const char *what, void *arg)
{
	struct config *cfg = arg;

	config_addproblem(cfg, "%s:%zu: %s", cfg->file, lineno, what);
}

/* Read a whole small file into a NUL-terminated buffer; NULL on error. */
static char *
config_read_file(const char *path, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_FILE_MAX) {
		if (errno == 0 || S_ISREG(st.st_mode))
			errno = EFBIG;
		else
			errno = EINVAL;
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (size_t)r;
	}
	close(fd);
	buf[off] = '\0';
	*lenp = off;
	return buf;
}

/* Load a secret from a file: the whole file, one trailing newline cut. */
static int
config_secret_file(struct config *cfg, struct config_slot *s, const char *path,
    enum config_source src)
{
	size_t len = 0;
	char *v = config_read_file(path, &len);

	if (v == NULL) {
		config_addproblem(cfg, "%s: cannot read secret file %s: %s",
		    s->key->name, path, strerror(errno));
		return -1;
	}
	if (len > 0 && v[len - 1] == '\n')
		v[--len] = '\0';
	if (len > 0 && v[len - 1] == '\r')
		v[--len] = '\0';
	config_set(s, v, src);
	explicit_bzero(v, len);
	free(v);
	return 0;
}

static void
config_check_value(struct config *cfg, struct config_slot *s)
{
	const struct config_key *k = s->key;
	const char *v = s->value;
	char *end;

	if (v == NULL) {
		if (k->flags & CONFIG_REQUIRED)
			config_addproblem(cfg, "%s is not set (%s)%s", k->name,
			    k->help,
			    (k->flags & CONFIG_SECRET)
				? "; set it, NAME_FILE or a credential"
				: "");
		return;
	}
	switch (k->type) {
	case CONFIG_INT:
		errno = 0;
		s->num = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno == ERANGE) {
			config_addproblem(
			    cfg, "%s: not a whole number: \"%s\"", k->name, v);
			break;
		}
		if (s->num < k->min || s->num > k->max)
			config_addproblem(cfg,
			    "%s: %ld is out of range (%ld to %ld)", k->name,
			    s->num, k->min, k->max);
		break;
	case CONFIG_BOOL:
		if (config_parse_bool(v, &s->flag) < 0)
			config_addproblem(cfg,
			    "%s: not a boolean (use 1/0, true/false, yes/no, "
			    "on/off): \"%s\"",
			    k->name, v);
		break;
	case CONFIG_URL:
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)
			config_addproblem(
			    cfg, "%s: not an http:// or https:// URL", k->name);
		break;
	case CONFIG_STRING:
		break;
	}
}

/*
 * Load every key: defaults, then the file at path (if not NULL), then the
 * environment, then secret files. Return 0 when there is no problem, or
 * the number of problems (see config_problem).
 */
int
config_load(struct config *cfg, const char *path)
{
	for (size_t i = 0; i < cfg->nslots; i++)
		config_set(
		    &cfg->slots[i], cfg->slots[i].key->def, CONFIG_SRC_DEFAULT);
	if (path != NULL) {
		size_t len = 0;
		char *buf = config_read_file(path, &len);

		cfg->file = path;
		if (buf == NULL)
			config_addproblem(cfg, "cannot read config file %s: %s",
			    path, strerror(errno));
		else
			(void)config_parse_buf(
			    buf, len, config_file_line, config_file_err, cfg);
		free(buf);
		cfg->file = NULL;
	}
	for (size_t i = 0; i < cfg->nslots; i++) {
		struct config_slot *s = &cfg->slots[i];
		const char *env = getenv(s->key->name);

		if (env != NULL && *env != '\0')
			config_set(s, env, CONFIG_SRC_ENV);
		if (s->key->flags & CONFIG_SECRET) {
			char *fname = xasprintf("%s_FILE", s->key->name);
			const char *fp = getenv(fname);
			const char *cred = getenv("CREDENTIALS_DIRECTORY");

			free(fname);
			if (fp != NULL && *fp != '\0') {
				(void)config_secret_file(
				    cfg, s, fp, CONFIG_SRC_SECRET_FILE);
			} else if (s->value == NULL && cred != NULL &&
				   *cred != '\0') {
				char *cp =
				    xasprintf("%s/%s", cred, s->key->name);

				if (access(cp, R_OK) == 0)
					(void)config_secret_file(
					    cfg, s, cp, CONFIG_SRC_CREDENTIAL);
				free(cp);
			}
			if (s->value != NULL)
				log_add_secret(s->value);
		}
		config_check_value(cfg, s);
	}
	return (int)cfg->nproblems;
}

size_t
config_nproblems(const struct config *cfg)
{
	return cfg->nproblems;
}

const char *
config_problem(const struct config *cfg, size_t i)
{
	return i < cfg->nproblems ? cfg->problems[i] : NULL;
}

const char *
config_str(const struct config *cfg, const char *name)
{
	return config_must(cfg, name)->value;
}

long
config_int(const struct config *cfg, const char *name)
{
	const struct config_slot *s = config_must(cfg, name);

	if (s->key->type != CONFIG_INT)
		fatalx("config key %s is not a number", name);
	return s->num;
}

bool
config_bool(const struct config *cfg, const char *name)
{
	const struct config_slot *s = config_must(cfg, name);

	if (s->key->type != CONFIG_BOOL)
		fatalx("config key %s is not a boolean", name);
	return s->value != NULL && s->flag;
}

bool
config_is_set(const struct config *cfg, const char *name)
{
	return config_must(cfg, name)->value != NULL;
}

/* Print "KEY=value  # source" per key; secrets as (set) / (unset). */
void
config_print(const struct config *cfg, FILE *f)
{
	for (size_t i = 0; i < cfg->nslots; i++) {
		const struct config_slot *s = &cfg->slots[i];
		const char *v;

		if (s->key->flags & CONFIG_SECRET)
			v = s->value ? "(set)" : "(unset)";
		else
			v = s->value ? s->value : "";
		fprintf(f, "%s=%s\t# %s\n", s->key->name, v,
		    config_source_names[s->source]);
	}
}

/* Print every key name, one per line (for the docs check). */
void
config_print_keys(const struct config *cfg, FILE *f)
{
	for (size_t i = 0; i < cfg->nslots; i++)
		fprintf(f, "%s\n", cfg->slots[i].key->name);
}
