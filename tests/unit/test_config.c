/*
 * Tests of common/config.c: the KEY=VALUE parser line by line, the order
 * of sources, secrets from files and credentials, and every kind of bad
 * setting reported by name (all of them, not just the first).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

static const struct config_key test_keys[] = {
    {"T_NAME", CONFIG_STRING, "dflt", 0, 0, 0, "a name"},
    {"T_COUNT", CONFIG_INT, "5", 1, 10, 0, "a count"},
    {"T_FLAG", CONFIG_BOOL, "0", 0, 0, 0, "a flag"},
    {"T_URL", CONFIG_URL, "https://example.test/v1", 0, 0, 0, "a URL"},
    {"T_TOKEN", CONFIG_STRING, NULL, 0, 0, CONFIG_SECRET | CONFIG_REQUIRED,
	"a token"},
    {"T_OPT", CONFIG_STRING, NULL, 0, 0, 0, "optional"},
    {NULL, CONFIG_STRING, NULL, 0, 0, 0, NULL},
};

static const char *const env_names[] = {"T_NAME", "T_COUNT", "T_FLAG", "T_URL",
    "T_TOKEN", "T_OPT", "T_TOKEN_FILE", "CREDENTIALS_DIRECTORY"};

static char tmpdir[64];

static int
setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(env_names) / sizeof(*env_names); i++)
		unsetenv(env_names[i]);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mzcfg.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	log_clear_secrets();
	return 0;
}

static char *
write_file(const char *name, const char *text)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static struct config *
load(const char *path)
{
	const struct config_key *tables[] = {test_keys, NULL};
	struct config *cfg = config_new(tables);

	(void)config_load(cfg, path);
	return cfg;
}

static bool
has_problem(const struct config *cfg, const char *needle)
{
	for (size_t i = 0; i < config_nproblems(cfg); i++)
		if (strstr(config_problem(cfg, i), needle) != NULL)
			return true;
	return false;
}

struct parsed {
	char text[512];
	char errors[256];
};

static void
on_line(const char *key, const char *value, size_t lineno, void *arg)
{
	struct parsed *p = arg;
	size_t l = strlen(p->text);

	snprintf(p->text + l, sizeof(p->text) - l, "%zu:%s=[%s];", lineno, key,
	    value);
}

static void
on_err(size_t lineno, const char *what, void *arg)
{
	struct parsed *p = arg;
	size_t l = strlen(p->errors);

	snprintf(p->errors + l, sizeof(p->errors) - l, "%zu:%s;", lineno, what);
}

static void
test_parse_table(void **state)
{
	static const struct {
		const char *in;
		const char *lines;
		const char *errors;
	} cases[] = {
	    {"A=1\n", "1:A=[1];", ""},
	    {"A=1", "1:A=[1];", ""},
	    {"# comment\n\n  B = two words  \n", "3:B=[two words];", ""},
	    {"export C=\"quoted # not a comment\"\n",
		"1:C=[quoted # not a comment];", ""},
	    {"D='single'\r\n", "1:D=[single];", ""},
	    {"E=\n", "1:E=[];", ""},
	    {"F=a=b\n", "1:F=[a=b];", ""},
	    {"G_H9=שלום\n", "1:G_H9=[שלום];", ""},
	    {"novalue\n", "", "1:expected KEY=VALUE;"},
	    {"lower=1\n", "", "1:invalid key name;"},
	    {"=1\n", "", "1:invalid key name;"},
	    {"9A=1\n", "", "1:invalid key name;"},
	    {"Q=\"open\n", "", "1:unterminated quote;"},
	    {"A=1\nbad line\nB=2\n", "1:A=[1];3:B=[2];",
		"2:expected KEY=VALUE;"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct parsed p;
		int bad;

		memset(&p, 0, sizeof(p));
		bad = config_parse_buf(
		    cases[i].in, strlen(cases[i].in), on_line, on_err, &p);
		assert_string_equal(p.text, cases[i].lines);
		assert_string_equal(p.errors, cases[i].errors);
		assert_int_equal(bad, cases[i].errors[0] ? 1 : 0);
	}
}

static void
test_parse_nul_and_long_line(void **state)
{
	struct parsed p;
	char *big = malloc(CONFIG_LINE_MAX + 20);

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(
	    config_parse_buf("A=1\0x\nB=2\n", 10, on_line, on_err, &p), 1);
	assert_string_equal(p.text, "2:B=[2];");
	assert_string_equal(p.errors, "1:NUL byte in line;");
	memset(&p, 0, sizeof(p));
	memset(big, 'x', CONFIG_LINE_MAX + 20);
	memcpy(big, "A=", 2);
	assert_int_equal(
	    config_parse_buf(big, CONFIG_LINE_MAX + 20, on_line, on_err, &p),
	    1);
	assert_string_equal(p.errors, "1:line too long;");
	free(big);
}

static void
test_defaults_file_env_order(void **state)
{
	char *path = write_file("c.env",
	    "T_NAME=from-file\nT_COUNT=7\nT_TOKEN=file-token-1\nOTHER=x\n");
	struct config *cfg;

	(void)state;
	setenv("T_COUNT", "9", 1);
	cfg = load(path);
	assert_int_equal(config_nproblems(cfg), 0);
	assert_string_equal(config_str(cfg, "T_NAME"), "from-file");
	assert_int_equal(config_int(cfg, "T_COUNT"), 9);
	assert_false(config_bool(cfg, "T_FLAG"));
	assert_string_equal(
	    config_str(cfg, "T_URL"), "https://example.test/v1");
	assert_false(config_is_set(cfg, "T_OPT"));
	assert_string_equal(config_str(cfg, "T_TOKEN"), "file-token-1");
	config_free(cfg);
	free(path);
}

static void
test_secret_sources_and_redaction(void **state)
{
	char *secret = write_file("tok", "s3cret-from-file\n");
	char out[4096];
	struct config *cfg;
	FILE *f;
	size_t n;

	(void)state;
	setenv("T_TOKEN_FILE", secret, 1);
	cfg = load(NULL);
	assert_int_equal(config_nproblems(cfg), 0);
	assert_string_equal(config_str(cfg, "T_TOKEN"), "s3cret-from-file");
	f = tmpfile();
	config_print(cfg, f);
	rewind(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	assert_non_null(strstr(out, "T_TOKEN=(set)\t# secret file"));
	assert_null(strstr(out, "s3cret"));
	{
		char *r = log_redact("key is s3cret-from-file!");

		assert_string_equal(r, "key is (redacted)!");
		free(r);
	}
	config_free(cfg);
	unsetenv("T_TOKEN_FILE");

	/* systemd credentials */
	free(write_file("T_TOKEN", "cred-value"));
	setenv("CREDENTIALS_DIRECTORY", tmpdir, 1);
	cfg = load(NULL);
	assert_int_equal(config_nproblems(cfg), 0);
	assert_string_equal(config_str(cfg, "T_TOKEN"), "cred-value");
	config_free(cfg);

	/* A NAME_FILE that cannot be read is a problem naming the key. */
	setenv("T_TOKEN_FILE", "/nonexistent/merkazia/token", 1);
	cfg = load(NULL);
	assert_true(has_problem(cfg, "T_TOKEN: cannot read secret file"));
	config_free(cfg);
	free(secret);
}

static void
test_every_problem_listed(void **state)
{
	char *path = write_file("bad.env", "T_NAME=x\nthis is wrong\n");
	struct config *cfg;

	(void)state;
	setenv("T_COUNT", "11", 1);
	setenv("T_FLAG", "maybe", 1);
	setenv("T_URL", "ftp://x", 1);
	cfg = load(path);
	assert_int_equal(config_nproblems(cfg), 5);
	assert_true(has_problem(cfg, "T_TOKEN is not set"));
	assert_true(has_problem(cfg, "T_COUNT: 11 is out of range (1 to 10)"));
	assert_true(has_problem(cfg, "T_FLAG: not a boolean"));
	assert_true(has_problem(cfg, "T_URL: not an http"));
	assert_true(has_problem(cfg, "bad.env:2: expected KEY=VALUE"));
	config_free(cfg);

	setenv("T_COUNT", "12abc", 1);
	unsetenv("T_FLAG");
	unsetenv("T_URL");
	setenv("T_TOKEN", "abcd", 1);
	cfg = load("/nonexistent/merkazia.env");
	assert_true(has_problem(cfg, "T_COUNT: not a whole number"));
	assert_true(has_problem(cfg, "cannot read config file"));
	assert_int_equal(config_nproblems(cfg), 2);
	config_free(cfg);
	free(path);
}

static void
test_bool_words(void **state)
{
	static const char *const t[] = {"1", "true", "YES", "On"};
	static const char *const f[] = {"0", "false", "no", "OFF"};
	bool b;

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(config_parse_bool(t[i], &b), 0);
		assert_true(b);
		assert_int_equal(config_parse_bool(f[i], &b), 0);
		assert_false(b);
	}
	assert_int_equal(config_parse_bool("2", &b), -1);
	assert_int_equal(config_parse_bool("", &b), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_parse_nul_and_long_line),
	    cmocka_unit_test_setup_teardown(
		test_defaults_file_env_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_secret_sources_and_redaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_every_problem_listed, setup, teardown),
	    cmocka_unit_test(test_bool_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
