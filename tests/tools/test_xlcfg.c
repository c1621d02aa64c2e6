/*
 * The xl.cfg parser (every syntax path and error message, exactly) and the
 * domain config on top of it (defaults, every key's checks, the seed-002
 * channel keys, diskspecs, vchan specs, the mapping onto hv_domain_config).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlcfg.h"

#define SRC "t.cfg"

static struct xlcfg *parse_ok(const char *text)
{
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err = { "" };
	int rc = xlcfg_parse(SRC, text, strlen(text), &cfg, &err);

	cr_assert_eq(rc, 0, "parse failed: %s", err.msg);
	return cfg;
}

static void parse_fails(const char *text, int want_rc, const char *want)
{
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err = { "" };
	int rc = xlcfg_parse(SRC, text, strlen(text), &cfg, &err);

	cr_assert_eq(rc, want_rc, "rc %d, want %d (%s)", rc, want_rc, err.msg);
	cr_assert_null(cfg);
	cr_assert_str_eq(err.msg, want);
}

static const char *str(const struct xlcfg *cfg, const char *key)
{
	const char *s = NULL;
	struct xlcfg_err err;

	cr_assert_eq(xlcfg_get_string(cfg, key, &s, &err), 0, "%s: %s", key, err.msg);
	return s;
}

static uint64_t num(const struct xlcfg *cfg, const char *key)
{
	uint64_t v = 0;
	struct xlcfg_err err;

	cr_assert_eq(xlcfg_get_u64(cfg, key, 0, UINT64_MAX, &v, &err), 0, "%s: %s", key, err.msg);
	return v;
}

/* ---- Syntax: what parses ---- */

Test(syntax, strings_numbers_comments)
{
	struct xlcfg *cfg = parse_ok("# a comment\n"
				     "name = \"dom1\"   # trailing comment\n"
				     "kernel='/bin/true'\n"
				     "memory = 64\n"
				     "hex = 0x1f\n"
				     "oct = 010\n"
				     "\n"
				     "a = 1; b = \"two\";\n");

	cr_assert_str_eq(str(cfg, "name"), "dom1");
	cr_assert_str_eq(str(cfg, "kernel"), "/bin/true");
	cr_assert_eq(num(cfg, "memory"), 64);
	cr_assert_eq(num(cfg, "hex"), 31);
	cr_assert_eq(num(cfg, "oct"), 8); /* strtol base 0, as xl */
	cr_assert_eq(num(cfg, "a"), 1);
	cr_assert_str_eq(str(cfg, "b"), "two");
	cr_assert_eq(xlcfg_nr_keys(cfg), 7);
	cr_assert_eq(xlcfg_get(cfg, "memory")->type, XLCFG_NUMBER);
	cr_assert_eq(xlcfg_get(cfg, "name")->pos.line, 2);
	cr_assert_eq(xlcfg_get(cfg, "name")->pos.col, 8);
	xlcfg_destroy(cfg);
}

Test(syntax, escapes)
{
	struct xlcfg *cfg = parse_ok("a = \"q\\\"s\\'b\\\\n\\n t\\t\\x41\\101\\7\"\n"
				     "b = 'it\\'s \"fine\"'\n"
				     "c = \"\"\n");

	cr_assert_str_eq(str(cfg, "a"), "q\"s'b\\n\n t\tAA\a");
	cr_assert_str_eq(str(cfg, "b"), "it's \"fine\"");
	cr_assert_str_eq(str(cfg, "c"), "");
	cr_assert_eq(xlcfg_get(cfg, "c")->len, 0);
	xlcfg_destroy(cfg);
}

Test(syntax, lists_span_lines_nest_and_trail)
{
	struct xlcfg *cfg = parse_ok("disk = [ 'a',\n"
				     "         'b' ,\n"
				     "\n"
				     "         'c', ]\n"
				     "empty = [ ]\n"
				     "nested = [ [ 1, 2 ], [], 'x' ]\n"
				     "nl = [\n"
				     "  'only'\n"
				     "]\n");
	const struct xlcfg_value *v = xlcfg_get(cfg, "disk");

	cr_assert_eq(v->type, XLCFG_LIST);
	cr_assert_eq(v->nr_items, 3);
	cr_assert_str_eq(v->items[2]->str, "c");
	cr_assert_eq(v->items[2]->pos.line, 4);
	cr_assert_eq(xlcfg_get(cfg, "empty")->nr_items, 0);
	v = xlcfg_get(cfg, "nested");
	cr_assert_eq(v->nr_items, 3);
	cr_assert_eq(v->items[0]->nr_items, 2);
	cr_assert_eq(v->items[1]->type, XLCFG_LIST);
	cr_assert_eq(xlcfg_get(cfg, "nl")->nr_items, 1);
	xlcfg_destroy(cfg);
}

Test(syntax, last_assignment_wins)
{
	struct xlcfg *cfg = parse_ok("memory = 64\nname = 'x'\nmemory = 128\n");

	cr_assert_eq(num(cfg, "memory"), 128);
	cr_assert_eq(xlcfg_nr_keys(cfg), 2);
	cr_assert_str_eq(xlcfg_key(cfg, 0, NULL), "memory");
	cr_assert_eq(xlcfg_get(cfg, "memory")->pos.line, 3);
	xlcfg_destroy(cfg);
}

Test(syntax, plus_equals_concatenates)
{
	struct xlcfg *cfg = parse_ok("extra = 'a'\nextra += ' b'\n"
				     "disk = ['x']\ndisk += ['y', 'z']\n"
				     "fresh += 'new'\n");
	const struct xlcfg_value *d = xlcfg_get(cfg, "disk");

	cr_assert_str_eq(str(cfg, "extra"), "a b");
	cr_assert_eq(d->nr_items, 3);
	cr_assert_str_eq(d->items[0]->str, "x");
	cr_assert_str_eq(d->items[2]->str, "z");
	cr_assert_str_eq(str(cfg, "fresh"), "new");
	xlcfg_destroy(cfg);
}

Test(syntax, crlf_no_final_newline_and_empty)
{
	struct xlcfg *cfg = parse_ok("a = 1\r\nb = [ 2,\r\n 3 ]\r\nc = 'end'");

	cr_assert_eq(num(cfg, "a"), 1);
	cr_assert_eq(xlcfg_get(cfg, "b")->nr_items, 2);
	cr_assert_str_eq(str(cfg, "c"), "end");
	xlcfg_destroy(cfg);
	cfg = parse_ok("");
	cr_assert_eq(xlcfg_nr_keys(cfg), 0);
	xlcfg_destroy(cfg);
	cfg = parse_ok("# only a comment");
	cr_assert_eq(xlcfg_nr_keys(cfg), 0);
	xlcfg_destroy(cfg);
}

Test(syntax, keys_charset)
{
	struct xlcfg *cfg = parse_ok("a.b_c9 = 1\n");

	cr_assert_eq(num(cfg, "a.b_c9"), 1);
	xlcfg_destroy(cfg);
}

Test(syntax, parse_more_overrides_and_is_atomic)
{
	struct xlcfg *cfg = parse_ok("memory = 64\nextra = 'a'\n");
	struct xlcfg_err err;

	cr_assert_eq(xlcfg_parse_more(cfg, "command line", "memory=128", 10, &err), 0);
	cr_assert_eq(xlcfg_parse_more(cfg, "command line", "extra+=' b'", 11, &err), 0);
	cr_assert_eq(num(cfg, "memory"), 128);
	cr_assert_str_eq(str(cfg, "extra"), "a b");
	cr_assert_str_eq(xlcfg_get(cfg, "memory")->pos.source, "command line");
	cr_assert_eq(xlcfg_parse_more(cfg, "command line", "memory=1\nname=bad", 17, &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "command line:2:6: expected a value for `name', found `bad' "
				  "(strings need quotes)");
	cr_assert_eq(num(cfg, "memory"), 128); /* unchanged */
	cr_assert_null(xlcfg_get(cfg, "name"));
	cr_assert_str_eq(xlcfg_source(cfg), SRC);
	xlcfg_destroy(cfg);
}

/* ---- Syntax: every error ---- */

Test(syntax_errors, lexical)
{
	parse_fails("a = \"abc\n", -EINVAL, SRC ":1:5: unterminated string");
	parse_fails("a = 'abc", -EINVAL, SRC ":1:5: unterminated string");
	parse_fails("a = \"ab\\", -EINVAL, SRC ":1:8: unterminated string");
	parse_fails("a = \"\\q\"", -EINVAL, SRC ":1:6: invalid escape `\\q' in string");
	parse_fails("a = \"\\x4\"", -EINVAL, SRC ":1:6: `\\x' needs two hex digits");
	parse_fails("a = \"\\400\"", -EINVAL, SRC ":1:6: octal escape larger than \\377");
	parse_fails("a = \"x\\0\"", -EINVAL, SRC ":1:7: NUL byte in string");
	parse_fails("a = \"\\x00\"", -EINVAL, SRC ":1:6: NUL byte in string");
	parse_fails("a = 1 @\n", -EINVAL, SRC ":1:7: unexpected character `@'");
	parse_fails("a = (1)\n", -EINVAL,
		    SRC ":1:5: unexpected `(' (xl.cfg is not Python; see xl.cfg(5))");
	parse_fails("a = \x01\n", -EINVAL, SRC ":1:5: unexpected character `\\x01'");
	parse_fails("a = 1\r b = 2\n", -EINVAL, SRC ":1:6: unexpected character `\\x0d'");
}

/* Under ASan: a lexical error just after a value used to leak the value. */
Test(syntax_errors, error_after_value_frees_it)
{
	parse_fails("a = 'x'&\n", -EINVAL, SRC ":1:8: unexpected character `&'");
	parse_fails("a = [ 1 & ]\n", -EINVAL, SRC ":1:9: unexpected character `&'");
	parse_fails("a = [ [ 'x' ] @\n", -EINVAL, SRC ":1:15: unexpected character `@'");
}

Test(syntax_errors, nul_byte_in_file)
{
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;

	cr_assert_eq(xlcfg_parse(SRC, "a = 1\n\0", 7, &cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":2:1: NUL byte in file");
	cr_assert_eq(xlcfg_parse(SRC, "a = 'x\0'", 9, &cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":1:7: NUL byte in string");
}

Test(syntax_errors, grammar)
{
	parse_fails("= 5\n", -EINVAL, SRC ":1:1: expected a key, found `='");
	parse_fails("'a' = 5\n", -EINVAL, SRC ":1:1: expected a key, found a string");
	parse_fails("5 = 5\n", -EINVAL, SRC ":1:1: expected a key, found `5'");
	parse_fails("name 'x'\n", -EINVAL,
		    SRC ":1:6: expected `=' or `+=' after `name', found a string");
	parse_fails("name\n", -EINVAL,
		    SRC ":1:5: expected `=' or `+=' after `name', found end of line");
	parse_fails("name =\n", -EINVAL,
		    SRC ":1:7: expected a value for `name' (a string, a number or a list), found "
			"end of line");
	parse_fails("name = dom1\n", -EINVAL,
		    SRC ":1:8: expected a value for `name', found `dom1' (strings need quotes)");
	parse_fails("a = 1 2\n", -EINVAL,
		    SRC ":1:7: expected end of line or `;' after the value of `a', found `2'");
	parse_fails("a = 'x' 'y'\n", -EINVAL,
		    SRC ":1:9: expected end of line or `;' after the value of `a', found a string");
	/* Bare numbers are xl's [0-9][0-9a-fx]*: no upper-case hex digits. */
	parse_fails("a = 0x1F\n", -EINVAL,
		    SRC ":1:8: expected end of line or `;' after the value of `a', found `F'");
	parse_fails("a = 12k\n", -EINVAL,
		    SRC ":1:7: expected end of line or `;' after the value of `a', found `k'");
	parse_fails("a = ]\n", -EINVAL,
		    SRC ":1:5: expected a value for `a' (a string, a number or a list), found `]'");
}

Test(syntax_errors, lists)
{
	parse_fails("a = [ 1 2 ]\n", -EINVAL, SRC ":1:9: expected `,' or `]' in list, found `2'");
	parse_fails("a = [ 1,\n 2\n", -EINVAL,
		    SRC ":3:1: unterminated list (the `[' is at line 1, column 5)");
	parse_fails("a = [ , ]\n", -EINVAL,
		    SRC ":1:7: expected a value for `a' (a string, a number or a list), found `,'");
	parse_fails("a = [ 1, , 2 ]\n", -EINVAL,
		    SRC
		    ":1:10: expected a value for `a' (a string, a number or a list), found `,'");
	xlcfg_destroy(parse_ok("a = [[[[[[[[1]]]]]]]]\n"));
	parse_fails("a = [[[[[[[[[1]]]]]]]]]\n", -E2BIG, SRC ":1:13: lists nested deeper than 8");
}

Test(syntax_errors, keys)
{
	parse_fails("Name = 'x'\n", -EINVAL,
		    SRC ":1:1: invalid key `Name': keys are [a-z][a-z0-9._]*");
	parse_fails("on-crash = 'x'\n", -EINVAL,
		    SRC ":1:1: invalid key `on-crash': keys are [a-z][a-z0-9._]*");
	parse_fails("_x = 1\n", -EINVAL, SRC ":1:1: invalid key `_x': keys are [a-z][a-z0-9._]*");
	parse_fails("a = [1]\na += 'x'\n", -EINVAL,
		    SRC ":2:6: `a += ...' can't add a list to a string or a string to a list");
	parse_fails("a = 'x'\na += [1]\n", -EINVAL,
		    SRC ":2:6: `a += ...' can't add a list to a string or a string to a list");
}

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = malloc(h + n + t + 1);

	cr_assert(s);
	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

Test(limits, string_length)
{
	char *ok = repeat("a = '", 'x', XLCFG_MAX_STRING, "'\n");
	char *big = repeat("a = '", 'x', XLCFG_MAX_STRING + 1, "'\n");
	struct xlcfg *cfg = parse_ok(ok);

	cr_assert_eq(xlcfg_get(cfg, "a")->len, XLCFG_MAX_STRING);
	xlcfg_destroy(cfg);
	parse_fails(big, -E2BIG, SRC ":1:5: string longer than 4096 bytes");
	free(ok);
	free(big);
	ok = repeat("a = '", 'x', 3000, "'\na += '");
	big = repeat(ok, 'y', 1097, "'\n");
	parse_fails(big, -E2BIG, SRC ":2:6: string longer than 4096 bytes after `+='");
	free(ok);
	free(big);
}

Test(limits, key_length_and_count)
{
	char *k = repeat("", 'k', XLCFG_MAX_KEY_LEN + 1, " = 1\n");
	char text[256 * 16 + 32] = "";
	size_t n = 0;

	parse_fails(k, -E2BIG, SRC ":1:1: key longer than 64 bytes");
	free(k);
	for (int i = 0; i < XLCFG_MAX_KEYS; i++)
		n += sprintf(text + n, "k%d = 1\n", i);
	xlcfg_destroy(parse_ok(text));
	strcat(text, "k0 = 2\n"); /* a repeat is no new key */
	xlcfg_destroy(parse_ok(text));
	strcat(text, "extra = 1\n");
	parse_fails(text, -E2BIG, SRC ":258:1: more than 256 keys");
}

Test(limits, list_items)
{
	size_t size = 16 + XLCFG_MAX_LIST * 3 + 16;
	char *text = malloc(size);
	size_t n = sprintf(text, "a = [");
	struct xlcfg *cfg;

	for (int i = 0; i < XLCFG_MAX_LIST; i++)
		n += sprintf(text + n, "1,");
	strcpy(text + n, "]\n");
	cfg = parse_ok(text);
	cr_assert_eq(xlcfg_get(cfg, "a")->nr_items, XLCFG_MAX_LIST);
	xlcfg_destroy(cfg);
	strcpy(text + n, "2]\n");
	parse_fails(text, -E2BIG, SRC ":1:2054: list has more than 1024 items");
	strcpy(text + n, "]\na += [3]\n");
	parse_fails(text, -E2BIG, SRC ":2:6: list has more than 1024 items after `+='");
	free(text);
}

Test(limits, file_size)
{
	size_t len = XLCFG_MAX_FILE + 1;
	char *big = malloc(len);
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;

	memset(big, '\n', len);
	cr_assert_eq(xlcfg_parse(SRC, big, len, &cfg, &err), -EFBIG);
	cr_assert_str_eq(err.msg, SRC ": larger than 1048576 bytes");
	cr_assert_eq(xlcfg_parse(SRC, big, len - 1, &cfg, &err), 0);
	xlcfg_destroy(cfg);
	free(big);
}

Test(files, parse_file_errors)
{
	char path[] = "/tmp/xlcfg-test-XXXXXX";
	int fd = mkstemp(path);
	struct xlcfg *cfg = NULL;
	struct xlcfg_err err;
	char want[128];

	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "name = 'f'\n", 11), 11);
	close(fd);
	cr_assert_eq(xlcfg_parse_file(path, &cfg, &err), 0);
	cr_assert_str_eq(str(cfg, "name"), "f");
	cr_assert_str_eq(xlcfg_get(cfg, "name")->pos.source, path);
	xlcfg_destroy(cfg);
	cr_assert_eq(truncate(path, XLCFG_MAX_FILE + 1), 0);
	cr_assert_eq(xlcfg_parse_file(path, &cfg, &err), -EFBIG);
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
	cr_assert_str_eq(err.msg, want);
	unlink(path);
	cr_assert_eq(xlcfg_parse_file(path, &cfg, &err), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	cr_assert_str_eq(err.msg, want);
	cr_assert_eq(xlcfg_parse_file("/tmp", &cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "/tmp: not a regular file");
}

/* ---- Typed access ---- */

Test(access, numbers)
{
	struct xlcfg *cfg = parse_ok("a = '64'\nb = 12abc\nc = [1]\nd = 5\nd += 1\n"
				     "e = 99999999999999999999\nf = 0x\ng = 09\nh = 0\n");
	struct xlcfg_err err;
	uint64_t v;
	bool b;

	cr_assert_eq(num(cfg, "a"), 64); /* a string atom is a number too, as xl */
	cr_assert_eq(xlcfg_get_u64(cfg, "b", 0, 100, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":2:5: `b': `12abc' is not a number");
	cr_assert_eq(xlcfg_get_u64(cfg, "c", 0, 100, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":3:5: `c' must be a number, not a list");
	cr_assert_eq(xlcfg_get_u64(cfg, "d", 0, 100, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":5:6: `d': `+=' can't be used with numbers");
	cr_assert_eq(xlcfg_get_u64(cfg, "e", 0, UINT64_MAX, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":6:5: `e': `99999999999999999999' is too large");
	cr_assert_eq(xlcfg_get_u64(cfg, "f", 0, 100, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":7:5: `f': `0x' is not a number");
	cr_assert_eq(xlcfg_get_u64(cfg, "g", 0, 100, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":8:5: `g': `09' is not a number");
	cr_assert_eq(xlcfg_get_u64(cfg, "a", 65, 100, &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":1:5: `a' = 64 is out of range (65..100)");
	cr_assert_eq(xlcfg_get_u64(cfg, "zz", 0, 1, &v, &err), -ENOENT);
	cr_assert_eq(xlcfg_get_bool(cfg, "h", &b, &err), 0);
	cr_assert(!b);
	cr_assert_eq(xlcfg_get_bool(cfg, "a", &b, &err), 0);
	cr_assert(b);
	xlcfg_destroy(cfg);
}

Test(access, strings_and_lists)
{
	struct xlcfg *cfg = parse_ok("s = [ 'x' ]\nl = 'x'\nm = [ 'a', [ 'b' ] ]\nn = 5\n");
	const struct xlcfg_value *v;
	struct xlcfg_err err;
	const char *s;

	cr_assert_eq(xlcfg_get_string(cfg, "s", &s, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":1:5: `s' must be a string, not a list");
	cr_assert_eq(xlcfg_get_string_list(cfg, "l", &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":2:5: `l' must be a list, not a single value");
	cr_assert_eq(xlcfg_get_string_list(cfg, "m", &v, &err), -EINVAL);
	cr_assert_str_eq(err.msg, SRC ":3:12: item 2 of `m' must be a string, not a list");
	cr_assert_eq(xlcfg_get_string(cfg, "n", &s, &err), 0); /* numbers are text, as xl */
	cr_assert_str_eq(s, "5");
	cr_assert_eq(xlcfg_get_string(cfg, "zz", &s, &err), -ENOENT);
	xlcfg_destroy(cfg);
}

Test(access, parse_u64)
{
	uint64_t v;

	cr_assert_eq(xlcfg_parse_u64("18446744073709551615", &v), 0);
	cr_assert_eq(v, UINT64_MAX);
	cr_assert_eq(xlcfg_parse_u64("18446744073709551616", &v), -ERANGE);
	cr_assert_eq(xlcfg_parse_u64("0xffffffffffffffff", &v), 0);
	cr_assert_eq(xlcfg_parse_u64("0X10", &v), 0);
	cr_assert_eq(v, 16);
	cr_assert_eq(xlcfg_parse_u64("", &v), -EINVAL);
	cr_assert_eq(xlcfg_parse_u64("-1", &v), -EINVAL);
	cr_assert_eq(xlcfg_parse_u64(" 1", &v), -EINVAL);
	cr_assert_eq(xlcfg_parse_u64("0", &v), 0);
	cr_assert_eq(v, 0);
}

/* ---- The domain config ---- */

#define BASE "name = 'web'\nkernel = 'guest'\n"

static int dom_load(const char *text, struct xlcfg_domain *dom, struct xlcfg_err *err)
{
	struct xlcfg *cfg = parse_ok(text);
	FILE *devnull = fopen("/dev/null", "w");
	int rc = xlcfg_domain_load(cfg, dom, devnull, err);

	fclose(devnull);
	xlcfg_destroy(cfg);
	return rc;
}

static void dom_ok(const char *text, struct xlcfg_domain *dom)
{
	struct xlcfg_err err = { "" };

	cr_assert_eq(dom_load(text, dom, &err), 0, "%s", err.msg);
}

static void dom_fails(const char *text, const char *want)
{
	struct xlcfg_domain dom;
	struct xlcfg_err err = { "" };

	cr_assert_lt(dom_load(text, &dom, &err), 0, "accepted; want: %s", want);
	cr_assert_str_eq(err.msg, want);
}

Test(domain, defaults_and_mapping)
{
	struct xlcfg_domain d;
	struct hv_domain_config hv;

	dom_ok(BASE, &d);
	cr_assert_str_eq(d.name, "web");
	cr_assert_eq(d.type, XLCFG_TYPE_PROCESS);
	cr_assert_str_eq(d.kernel, "guest");
	cr_assert_eq(d.domid, DOMID_INVALID);
	cr_assert_eq(d.memory_mib, 32);
	cr_assert_eq(d.maxmem_mib, 32);
	cr_assert_eq(d.vcpus, 1);
	cr_assert_eq(d.maxvcpus, 1);
	cr_assert_null(d.cmdline);
	cr_assert_eq(d.on_poweroff, XLCFG_ACTION_DESTROY);
	cr_assert_eq(d.on_reboot, XLCFG_ACTION_RESTART);
	cr_assert_eq(d.on_crash, XLCFG_ACTION_DESTROY);
	xlcfg_domain_to_hv(&d, &hv);
	cr_assert_eq(hv.domid, DOMID_INVALID);
	cr_assert(!hv.privileged);
	cr_assert_eq(hv.nr_pages, 32 * 256);
	cr_assert_eq(hv.max_pages, 32 * 256);
	cr_assert_eq(hv.max_vcpus, 1);
	cr_assert_null(hv.cmdline);
	cr_assert_eq(hv.nr_reserve, 0);
	cr_assert_eq(hv.nr_bind, 0);
	xlcfg_domain_fini(&d);
}

Test(domain, every_key)
{
	struct xlcfg_domain d;
	struct hv_domain_config hv;

	dom_ok(BASE "type = 'process'\nmemory = 64\nmaxmem = 128\nvcpus = 2\nmaxvcpus = 4\n"
		    "domid = 7\ncmdline = 'console=hvc0'\non_poweroff = 'preserve'\n"
		    "on_reboot = 'destroy'\non_crash = 'restart'\nmax_event_channels = 2048\n"
		    "max_grant_frames = 32\n",
	       &d);
	xlcfg_domain_to_hv(&d, &hv);
	cr_assert_eq(hv.domid, 7);
	cr_assert_eq(hv.nr_pages, 64 * 256);
	cr_assert_eq(hv.max_pages, 128 * 256);
	cr_assert_eq(hv.max_vcpus, 4);
	cr_assert_eq(d.vcpus, 2);
	cr_assert_str_eq(hv.cmdline, "console=hvc0");
	cr_assert_eq(hv.max_evtchn_ports, 2048);
	cr_assert_eq(hv.max_grant_frames, 32);
	cr_assert_eq(d.on_poweroff, XLCFG_ACTION_PRESERVE);
	cr_assert_eq(d.on_reboot, XLCFG_ACTION_DESTROY);
	cr_assert_eq(d.on_crash, XLCFG_ACTION_RESTART);
	xlcfg_domain_fini(&d);
}

Test(domain, cmdline_like_xl)
{
	struct xlcfg_domain d;

	dom_ok(BASE "root = '/dev/xvda1'\nextra = 'quiet'\n", &d);
	cr_assert_str_eq(d.cmdline, "root=/dev/xvda1 quiet");
	xlcfg_domain_fini(&d);
	dom_ok(BASE "root = '/dev/xvda1'\n", &d);
	cr_assert_str_eq(d.cmdline, "root=/dev/xvda1");
	xlcfg_domain_fini(&d);
	dom_ok(BASE "extra = 'a'\nextra += ' b'\n", &d);
	cr_assert_str_eq(d.cmdline, "a b");
	xlcfg_domain_fini(&d);
	dom_ok(BASE "cmdline = 'wins'\nextra = 'lost'\n", &d);
	cr_assert_str_eq(d.cmdline, "wins");
	xlcfg_domain_fini(&d);
}

Test(domain, cmdline_and_warnings)
{
	char *long_extra = repeat(BASE "extra = '", 'x', HV_CMDLINE_MAX, "'\n");
	struct xlcfg *cfg = parse_ok(BASE "cmdline = 'a'\nextra = 'b'\nvif = ['x']\n");
	struct xlcfg_domain d;
	struct xlcfg_err err;
	char buf[512] = "";
	FILE *warn = fmemopen(buf, sizeof(buf), "w");

	cr_assert_eq(xlcfg_domain_load(cfg, &d, warn, &err), 0);
	fclose(warn);
	cr_assert_str_eq(buf,
			 SRC ": warning: ignoring `root' and `extra' in favour of `cmdline'\n" SRC
			     ":5:1: warning: unknown key `vif' ignored\n");
	xlcfg_domain_fini(&d);
	xlcfg_destroy(cfg);
	dom_fails(long_extra, SRC ":3:9: the command line is 1024 bytes, longer than 1023");
	free(long_extra);
}

Test(domain, required_and_names)
{
	dom_fails("kernel = 'g'\n", SRC ": `name' is required (the domain's name)");
	dom_fails("name = 'x'\n", SRC ": `kernel' is required (the guest program)");
	dom_fails("name = ''\nkernel = 'g'\n", SRC ":1:8: `name' is empty");
	dom_fails("name = 'x'\nkernel = ''\n", SRC ":2:10: `kernel' is empty");
	dom_fails("name = [ 'x' ]\nkernel = 'g'\n",
		  SRC ":1:8: `name' must be a string, not a list");
	const char *bad[] = { "12", "-x", ".x", "a b", "a/b", "Domain-0", "caf\\xc3\\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[128], want[256];

		snprintf(text, sizeof(text), "name = \"%s\"\nkernel = 'g'\n", bad[i]);
		snprintf(want, sizeof(want),
			 SRC ":1:8: invalid name `%s': 1..64 of [A-Za-z0-9_.-], not starting with "
			     "`-' or `.', not all digits, not Domain-0",
			 i == 6 ? "caf\xc3\xa9" : bad[i]);
		dom_fails(text, want);
	}
	struct xlcfg_domain d;
	dom_ok("name = 'Web-1.a_b'\nkernel = 'g'\n", &d);
	xlcfg_domain_fini(&d);
}

Test(domain, types)
{
	dom_fails(BASE "type = 'pvh'\n",
		  SRC ":3:8: type \"pvh\" is not supported yet: xenon runs \"process\" domains "
		      "(KVM guests come later)");
	dom_fails(BASE "type = 'kvm'\n",
		  SRC ":3:8: type \"kvm\" is not supported yet: xenon runs \"process\" domains "
		      "(KVM guests come later)");
	dom_fails(BASE "type = 'hvm'\n",
		  SRC ":3:8: type \"hvm\" needs Xen itself; xenon runs \"process\" domains");
	dom_fails(BASE "type = 'lxc'\n", SRC ":3:8: unknown type \"lxc\" (expected \"process\")");
}

Test(domain, ranges)
{
	dom_fails(BASE "memory = 0\n", SRC ":3:10: `memory' = 0 is out of range (1..16384)");
	dom_fails(BASE "memory = 16385\n",
		  SRC ":3:10: `memory' = 16385 is out of range (1..16384)");
	dom_fails(BASE "memory = 64\nmaxmem = 32\n",
		  SRC ":4:10: `maxmem' = 32 is out of range (64..16384)");
	dom_fails(BASE "vcpus = 33\n", SRC ":3:9: `vcpus' = 33 is out of range (1..32)");
	dom_fails(BASE "vcpus = 4\nmaxvcpus = 2\n",
		  SRC ":4:12: `maxvcpus' = 2 is out of range (4..32)");
	dom_fails(BASE "domid = 0\n", SRC ":3:9: `domid' = 0 is out of range (1..32751)");
	dom_fails(BASE "domid = 0x7ff0\n", SRC ":3:9: `domid' = 32752 is out of range (1..32751)");
	dom_fails(BASE "max_grant_frames = 0\n",
		  SRC ":3:20: `max_grant_frames' = 0 is out of range (1..1024)");
	dom_fails(BASE "memory = 'lots'\n", SRC ":3:10: `memory': `lots' is not a number");
}

Test(domain, actions)
{
	dom_fails(BASE "on_crash = 'coredump-restart'\n",
		  SRC ":3:12: `on_crash = \"coredump-restart\"' is not supported (destroy, restart "
		      "or preserve)");
	dom_fails(BASE "on_reboot = 'explode'\n",
		  SRC ":3:13: invalid `on_reboot' action \"explode\" (expected destroy, restart or "
		      "preserve)");
}

/* ---- Seed 002 channels ---- */

Test(evtchn, seed002_wiring)
{
	struct xlcfg_domain d;
	struct hv_domain_config hv;

	dom_ok(BASE "domid = 3\n"
		    "evtchn_reserve = [ 'domain=0,port=123,remote=self' ]\n"
		    "evtchn_bind = [ 'port=127,remote=0,remote_port=123' ]\n",
	       &d);
	xlcfg_domain_to_hv(&d, &hv);
	cr_assert_eq(hv.nr_reserve, 1);
	cr_assert_eq(hv.reserve[0].domid, 0);
	cr_assert_eq(hv.reserve[0].port, 123);
	cr_assert_eq(hv.reserve[0].remote_domid, 3);
	cr_assert_eq(hv.nr_bind, 1);
	cr_assert_eq(hv.bind[0].port, 127);
	cr_assert_eq(hv.bind[0].remote_domid, 0);
	cr_assert_eq(hv.bind[0].remote_port, 123);
	xlcfg_domain_fini(&d);
}

Test(evtchn, defaults_spaces_and_many)
{
	struct xlcfg_domain d;

	dom_ok(BASE
	       "evtchn_reserve = [ 'port=50, remote=9', 'domain=4,port=0x33,remote=9' ]\n"
	       "evtchn_bind = [ 'port=10,remote_port=20', 'port=11,remote_port=21,remote=5' ]\n",
	       &d);
	cr_assert_eq(d.nr_reserve, 2);
	cr_assert_eq(d.reserve[0].domid, 0);
	cr_assert_eq(d.reserve[0].remote_domid, 9);
	cr_assert_eq(d.reserve[1].domid, 4);
	cr_assert_eq(d.reserve[1].port, 0x33);
	cr_assert_eq(d.nr_bind, 2);
	cr_assert_eq(d.bind[0].remote_domid, 0);
	cr_assert_eq(d.bind[1].remote_domid, 5);
	xlcfg_domain_fini(&d);
}

Test(evtchn, errors)
{
	dom_fails(BASE "evtchn_reserve = [ 'port=1,remote=self' ]\n",
		  SRC ":3:20: `evtchn_reserve' item 1: `remote=self' needs a fixed `domid' (the "
		      "reservation names the new domain before it exists)");
	dom_fails(BASE "domid = 2\nevtchn_reserve = [ 'domain=2,port=1,remote=3' ]\n",
		  SRC ":4:20: `evtchn_reserve' item 1: `domain=2' is the domain being created; "
		      "reservations are made in existing domains");
	dom_fails(BASE "evtchn_reserve = [ 'port=1' ]\n",
		  SRC ":3:20: `evtchn_reserve' item 1: `remote=' is missing");
	dom_fails(BASE "evtchn_reserve = [ 'port=1,remote=2', 'port=1,remote=3' ]\n",
		  SRC ":3:39: `evtchn_reserve' item 2: port 1 of domain 0 is reserved twice");
	dom_fails(BASE "evtchn_reserve = [ 'port=0,remote=2' ]\n",
		  SRC ":3:20: `evtchn_reserve' item 1: `port=0' is not a number in 1..131071");
	dom_fails(BASE "evtchn_reserve = [ 'port=1,remote=me' ]\n",
		  SRC ":3:20: `evtchn_reserve' item 1: `remote=me' is not a number in 0..32751 or "
		      "`self'");
	dom_fails(BASE "evtchn_reserve = [ 'port=1,remote=2,colour=red' ]\n",
		  SRC ":3:20: `evtchn_reserve' item 1: unknown parameter `colour' (expected "
		      "domain, port, remote)");
	dom_fails(BASE "evtchn_reserve = [ 'port=1,port=2,remote=2' ]\n",
		  SRC ":3:20: `evtchn_reserve' item 1: `port' given twice");
	dom_fails(BASE "evtchn_bind = [ 'port,remote_port=2' ]\n",
		  SRC ":3:17: `evtchn_bind' item 1: `port' needs a value (`port=...')");
	dom_fails(BASE "evtchn_bind = [ 'port=5,remote_port=6', 'port=5,remote_port=7' ]\n",
		  SRC ":3:41: `evtchn_bind' item 2: port 5 is bound twice");
	dom_fails(BASE "domid = 4\nevtchn_bind = [ 'port=5,remote=4,remote_port=6' ]\n",
		  SRC ":4:17: `evtchn_bind' item 1: `remote=4' is the domain being created");
	dom_fails(BASE "evtchn_bind = [ 'port=5,remote=self,remote_port=6' ]\n",
		  SRC ":3:17: `evtchn_bind' item 1: `remote=self' is not a number in 0..32751");
	dom_fails(BASE "evtchn_bind = 'port=1'\n",
		  SRC ":3:15: `evtchn_bind' must be a list, not a single value");
}

Test(evtchn, too_many)
{
	char text[8192];
	size_t n = sprintf(text, BASE "evtchn_bind = [");

	for (int i = 1; i <= HV_MAX_PREBOUND + 1; i++)
		n += sprintf(text + n, "'port=%d,remote_port=1',", i);
	strcpy(text + n, "]\n");
	dom_fails(text, SRC ":3:15: `evtchn_bind' has more than 64 items");
}

/* ---- Disks ---- */

static void disk_ok(const char *spec, const char *target, const char *vdev, bool ro, bool cdrom)
{
	struct xlcfg_pos pos = { SRC, 1, 1 };
	struct xlcfg_disk d;
	struct xlcfg_err err = { "" };

	cr_assert_eq(xlcfg_disk_parse(spec, &pos, &d, &err), 0, "%s: %s", spec, err.msg);
	if (target)
		cr_assert_str_eq(d.target, target, "%s", spec);
	else
		cr_assert_null(d.target);
	cr_assert_str_eq(d.vdev, vdev);
	cr_assert_eq(d.readonly, ro, "%s", spec);
	cr_assert_eq(d.cdrom, cdrom, "%s", spec);
	xlcfg_disk_fini(&d);
}

static void disk_fails(const char *spec, const char *want)
{
	struct xlcfg_pos pos = { SRC, 1, 1 };
	struct xlcfg_disk d;
	struct xlcfg_err err = { "" };

	cr_assert_eq(xlcfg_disk_parse(spec, &pos, &d, &err), -EINVAL, "accepted %s", spec);
	cr_assert_str_eq(err.msg, want);
}

Test(disk, xl_equivalent_forms)
{
	/* The examples of xl-disk-configuration.txt, raw ones. */
	disk_ok("/dev/vg/guest-volume,,hda", "/dev/vg/guest-volume", "hda", false, false);
	disk_ok("/dev/vg/guest-volume,raw,hda,rw", "/dev/vg/guest-volume", "hda", false, false);
	disk_ok("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume",
		"/dev/vg/guest-volume", "hda", false, false);
	disk_ok("/root/image.iso,,hdc,cdrom", "/root/image.iso", "hdc", true, true);
	disk_ok("/root/image.iso,,hdc,,cdrom", "/root/image.iso", "hdc", true, true);
	disk_ok("/root/image.iso,raw,hdc,devtype=cdrom", "/root/image.iso", "hdc", true, true);
	disk_ok("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso",
		"/root/image.iso", "hdc", true, true);
	disk_ok("guest.img,raw,xvda,ro", "guest.img", "xvda", true, false);
	disk_ok("vdev=xvdb,target=a,b c", "a,b c", "xvdb", false, false);
	disk_ok("vdev=xvdc,cdrom", NULL, "xvdc", true, true);
	disk_ok("g.img,raw,xvdaa15,w", "g.img", "xvdaa15", false, false);
	disk_ok("g.img,raw,sdb2", "g.img", "sdb2", false, false);
}

Test(disk, flags)
{
	struct xlcfg_pos pos = { SRC, 1, 1 };
	struct xlcfg_disk d;
	struct xlcfg_err err;

	cr_assert_eq(xlcfg_disk_parse("g.img,,xvda,,no-discard,direct-io-safe,backend=1,"
				      "backendtype=qdisk,script=block-x",
				      &pos, &d, &err),
		     0, "%s", err.msg);
	cr_assert(!d.discard);
	cr_assert(d.direct_io_safe);
	cr_assert_str_eq(d.backend, "1");
	cr_assert_str_eq(d.backendtype, "qdisk");
	cr_assert_str_eq(d.script, "block-x");
	xlcfg_disk_fini(&d);
}

Test(disk, errors)
{
	disk_fails("g.img,qcow2,xvda",
		   SRC ":1:1: disk `g.img,qcow2,xvda': format `qcow2' is not supported (raw images "
		       "only)");
	disk_fails("g.img,foo,xvda",
		   SRC ":1:1: disk `g.img,foo,xvda': unknown format `foo' (expected raw)");
	disk_fails("g.img,raw",
		   SRC ":1:1: disk `g.img,raw': no vdev (the guest's device name, e.g. xvda)");
	disk_fails("g.img,raw,vda",
		   SRC ":1:1: disk `g.img,raw,vda': invalid vdev `vda': expected "
		       "xvd<letters>[<partition>], d<disk>p<partition>, hd<letters>[<partition>] "
		       "or sd<letters>[<partition>] (docs/misc/vbd-interface.txt)");
	disk_fails("g.img,raw,hdz", SRC ":1:1: disk `g.img,raw,hdz': invalid vdev `hdz': hd disks "
					"go up to hdd and partitions up to 63 "
					"(docs/misc/vbd-interface.txt)");
	/* xvda16 is valid (extended: 1<<28 | 16), as libxl; xvda01 is not. */
	disk_fails("g.img,raw,xvda01",
		   SRC ":1:1: disk `g.img,raw,xvda01': invalid vdev `xvda01': a number has no "
		       "leading 0 (the whole disk has no partition number: xvda, not xvda0) "
		       "(docs/misc/vbd-interface.txt)");
	disk_fails(",,xvda", SRC ":1:1: disk `,,xvda': no target (the image file)");
	disk_fails("g.img,raw,xvda,rx", SRC
		   ":1:1: disk `g.img,raw,xvda,rx': invalid access `rx' (expected ro, r, rw or w)");
	disk_fails("g.img,raw,xvda,rw,cdrom",
		   SRC ":1:1: disk `g.img,raw,xvda,rw,cdrom': a cdrom is read-only");
	disk_fails(
		"g.img,raw,xvda,rw,extra", SRC
		":1:1: disk `g.img,raw,xvda,rw,extra': too many positional parameters at `extra'");
	disk_fails("g.img,raw,xvda,vdev=xvdb",
		   SRC ":1:1: disk `g.img,raw,xvda,vdev=xvdb': `vdev' given twice");
	disk_fails("g.img,xvda,colour=red",
		   SRC ":1:1: disk `g.img,xvda,colour=red': unknown parameter `colour'");
	disk_fails("phy:/dev/sda,hda,w", SRC
		   ":1:1: disk `phy:/dev/sda,hda,w': xend's deprecated `phy:/dev/sda' syntax is "
		   "not supported (write `format=..., vdev=..., target=...')");
	disk_fails(",hdc:cdrom,r",
		   SRC ":1:1: disk `,hdc:cdrom,r': xend's deprecated `hdc:cdrom' syntax is "
		       "not supported (write `format=..., vdev=..., target=...')");
	disk_fails("g.img,,xvda,devtype=floppy", SRC ":1:1: disk `g.img,,xvda,devtype=floppy': "
						     "invalid devtype `floppy' (expected cdrom)");
	disk_fails("g.img,,xvda,discard,no-discard",
		   SRC ":1:1: disk `g.img,,xvda,discard,no-discard': both discard and no-discard");
	disk_fails("g.img,,xvda,backendtype=nbd",
		   SRC ":1:1: disk `g.img,,xvda,backendtype=nbd': invalid backendtype `nbd' "
		       "(expected phy, tap or qdisk)");
}

Test(disk, in_domain_config)
{
	struct xlcfg_domain d;

	dom_ok(BASE "disk = [ 'a.img,raw,xvda,rw', 'b.img,,xvdb,ro' ]\n", &d);
	cr_assert_eq(d.nr_disks, 2);
	cr_assert_str_eq(d.disks[1].vdev, "xvdb");
	cr_assert(d.disks[1].readonly);
	xlcfg_domain_fini(&d);
	dom_fails(BASE "disk = [ 'a.img,,xvda', 'b.img,,xvda' ]\n",
		  SRC ":3:25: disk `b.img,,xvda': vdev `xvda' used twice");
}

/* ---- vchan ---- */

Test(vchan, ok_and_errors)
{
	struct xlcfg_domain d;

	dom_ok(BASE "vchan = [ 'peer=0,path=data/vchan/echo,role=server,read=4096,write=8192',\n"
		    "          'peer=2,path=/local/domain/2/data/v,role=client' ]\n",
	       &d);
	cr_assert_eq(d.nr_vchans, 2);
	cr_assert(d.vchans[0].server);
	cr_assert_eq(d.vchans[0].read_min, 4096);
	cr_assert_eq(d.vchans[0].write_min, 8192);
	cr_assert_eq(d.vchans[1].peer, 2);
	cr_assert(!d.vchans[1].server);
	xlcfg_domain_fini(&d);
	dom_fails(BASE "vchan = [ 'peer=0,path=x' ]\n",
		  SRC ":3:11: `vchan' item 1: `peer=', `path=' and `role=' are required");
	dom_fails(BASE "vchan = [ 'peer=0,path=x//y,role=server' ]\n",
		  SRC ":3:11: `vchan' item 1: `path=x//y' is not a XenStore path");
	dom_fails(BASE "vchan = [ 'peer=0,path=x,role=both' ]\n",
		  SRC ":3:11: `vchan' item 1: `role=both' (expected server or client)");
	dom_fails(BASE "vchan = [ 'peer=0,path=x,role=client,read=1' ]\n",
		  SRC ":3:11: `vchan' item 1: `read=' and `write=' are for the server's end");
	dom_fails(BASE "vchan = [ 'peer=0,path=x,role=server,read=2000000' ]\n",
		  SRC ":3:11: `vchan' item 1: ring size `2000000' is not a number of bytes up to "
		      "1048576");
	dom_fails(BASE "vchan = [ 'peer=x,path=x,role=server' ]\n",
		  SRC ":3:11: `vchan' item 1: `peer=x' is not a domid");
	dom_fails(BASE "vchan = [ 'peer=0,path=x,role=server', 'peer=0,path=x,role=client' ]\n",
		  SRC ":3:40: `vchan' item 2: peer 0 path `x' given twice");
	dom_fails(BASE "domid = 3\nvchan = [ 'peer=3,path=x,role=server' ]\n",
		  SRC ":4:11: `vchan' item 1: peer 3 is the domain being created");
	dom_fails(BASE "vchan = [ 'peer=0,pth=x' ]\n",
		  SRC ":3:11: `vchan' item 1: unknown parameter `pth' (expected name, peer, path, "
		      "role, read, write)");
}
