/* See json.h. Nesting deeper than JSON_MAX_DEPTH is a caller bug: the
 * output stays valid JSON but is no longer indented. */
#include "json.h"

void json_init(struct json *j, FILE *f)
{
	*j = (struct json){ .f = f };
}

static void indent(struct json *j)
{
	fputc('\n', j->f);
	for (unsigned int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Before any value or key: the comma and newline it needs. */
static void before_item(struct json *j)
{
	unsigned int d = j->depth < JSON_MAX_DEPTH ? j->depth : JSON_MAX_DEPTH;

	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[d])
		fputc(',', j->f);
	if (j->depth)
		indent(j);
	j->need_comma[d] = true;
}

static void open_(struct json *j, char c)
{
	before_item(j);
	fputc(c, j->f);
	j->depth++;
	if (j->depth <= JSON_MAX_DEPTH)
		j->need_comma[j->depth] = false;
}

static void close_(struct json *j, char c)
{
	bool had_items = j->depth <= JSON_MAX_DEPTH && j->need_comma[j->depth];

	j->depth--;
	if (had_items)
		indent(j);
	fputc(c, j->f);
}

void json_begin_object(struct json *j)
{
	open_(j, '{');
}

void json_end_object(struct json *j)
{
	close_(j, '}');
}

void json_begin_array(struct json *j)
{
	open_(j, '[');
}

void json_end_array(struct json *j)
{
	close_(j, ']');
}

/* Length of the valid UTF-8 sequence at S (lead byte >= 0x80), or 0. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;

	if (s[0] >= 0xf8)
		return 0;
	for (int i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Config strings may hold any byte but NUL: valid UTF-8 passes through,
 * any other byte >= 0x80 is written as \u00XX so the output stays JSON. */
static void write_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		int n = *s >= 0x80 ? utf8_len(s) : 1;

		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s < 0x20 || *s == 0x7f || n == 0)
			fprintf(f, "\\u%04x", *s);
		else
			fwrite(s, 1, n, f);
		s += n ? n : 1;
	}
	fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
	before_item(j);
	write_string(j->f, key);
	fputs(": ", j->f);
	j->after_key = true;
}

void json_string(struct json *j, const char *s)
{
	before_item(j);
	if (s)
		write_string(j->f, s);
	else
		fputs("null", j->f);
}

void json_uint(struct json *j, uint64_t v)
{
	before_item(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_bool(struct json *j, bool v)
{
	before_item(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
	before_item(j);
	fputs("null", j->f);
}

void json_finish(struct json *j)
{
	fputc('\n', j->f);
}
