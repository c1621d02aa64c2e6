/*
 * The xl.cfg language: a hand-written lexer and recursive-descent parser
 * for the grammar of xl's libxlu_cfg_y.y:
 *
 *   file    := { NEWLINE | ';' | setting }
 *   setting := KEY ('=' | '+=') value (NEWLINE | ';' | EOF)
 *   value   := STRING | NUMBER | '[' nl* [ item { ',' nl* item } [ ',' nl* ] ] ']'
 *   item    := value nl*
 *
 * Comments run from `#' to the end of the line and leave the NEWLINE. The
 * lexer tracks line and column so every error points at a token; the first
 * error stops the parse (xl reports more, but after the first the rest are
 * usually echoes of it).
 *
 * Memory is bounded by the limits in xlcfg.h: a file of at most 1 MiB, at
 * most 256 distinct keys (a key set again replaces its value), strings of at
 * most 4 KiB and lists of at most 1024 items, also after `+='.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xlcfg.h"

struct xlcfg_setting {
	char *key;
	struct xlcfg_pos pos; /* of the key in its latest assignment */
	bool added;	      /* the latest assignment was `+=' */
	struct xlcfg_value *value;
};

struct xlcfg {
	struct xlcfg_setting settings[XLCFG_MAX_KEYS];
	size_t nr_settings;
	char *sources[XLCFG_MAX_SOURCES]; /* names that positions point to */
	size_t nr_sources;
};

enum tok {
	T_EOF,
	T_NEWLINE,
	T_SEMI,
	T_EQ,
	T_PLUSEQ,
	T_COMMA,
	T_LBRACK,
	T_RBRACK,
	T_WORD,	  /* [A-Za-z_][A-Za-z0-9._-]*: a key, or a misplaced word */
	T_NUMBER, /* [0-9][0-9a-fx]* as xl */
	T_STRING,
};

struct parser {
	struct xlcfg *cfg;
	const char *src;
	size_t len, off;
	struct xlcfg_pos at; /* position of src[off] */
	struct xlcfg_err *err;
	/* The current token; text/len for WORD, NUMBER and STRING. */
	enum tok tok;
	struct xlcfg_pos tok_pos;
	size_t tok_len;
	char text[XLCFG_MAX_STRING + 1];
};

/* ---- Errors ---- */

void xlcfg_errorf(struct xlcfg_err *err, const struct xlcfg_pos *pos, const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (!err)
		return;
	if (pos && pos->source && pos->line)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: ", pos->source, pos->line,
			     pos->col);
	else if (pos && pos->source)
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", pos->source);
	if (n >= sizeof(err->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
}

/* A byte as it should appear in a message: itself if printable. */
static const char *show_byte(unsigned char c, char buf[8])
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, 8, "%c", c);
	else
		snprintf(buf, 8, "\\x%02x", c);
	return buf;
}

/* The current token, for "found X" in messages. */
static const char *tok_describe(const struct parser *p, char *buf, size_t size)
{
	static const char *const names[] = {
		[T_EOF] = "end of file", [T_NEWLINE] = "end of line", [T_SEMI] = "`;'",
		[T_EQ] = "`='",		 [T_PLUSEQ] = "`+='",	      [T_COMMA] = "`,'",
		[T_LBRACK] = "`['",	 [T_RBRACK] = "`]'",	      [T_STRING] = "a string",
	};

	if (p->tok != T_WORD && p->tok != T_NUMBER)
		return names[p->tok];
	snprintf(buf, size, "`%.32s%s'", p->text, p->tok_len > 32 ? "..." : "");
	return buf;
}

static int perr(struct parser *p, const struct xlcfg_pos *pos, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(struct parser *p, const struct xlcfg_pos *pos, int rc, const char *fmt, ...)
{
	char msg[XLCFG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xlcfg_errorf(p->err, pos, "%s", msg);
	return rc;
}

static int oom(struct parser *p)
{
	return perr(p, &p->tok_pos, -ENOMEM, "out of memory");
}

/* ---- Values ---- */

static void value_free(struct xlcfg_value *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nr_items; i++)
		value_free(v->items[i]);
	free(v->items);
	free(v->str);
	free(v);
}

static struct xlcfg_value *value_new(enum xlcfg_type type, const struct xlcfg_pos *pos)
{
	struct xlcfg_value *v = calloc(1, sizeof(*v));

	if (v) {
		v->type = type;
		v->pos = *pos;
	}
	return v;
}

static struct xlcfg_value *value_clone(const struct xlcfg_value *v)
{
	struct xlcfg_value *c = value_new(v->type, &v->pos);

	if (!c)
		return NULL;
	if (v->str && !(c->str = strdup(v->str)))
		goto out_free;
	c->len = v->len;
	if (v->nr_items && !(c->items = calloc(v->nr_items, sizeof(*c->items))))
		goto out_free;
	for (; c->nr_items < v->nr_items; c->nr_items++)
		if (!(c->items[c->nr_items] = value_clone(v->items[c->nr_items])))
			goto out_free;
	return c;

out_free:
	value_free(c);
	return NULL;
}

/* Appends ITEM to LIST (taking it), growing by doubling. */
static int list_append(struct xlcfg_value *list, struct xlcfg_value *item)
{
	size_t n = list->nr_items;

	if (n >= XLCFG_MAX_LIST)
		return -E2BIG;
	if ((n & (n - 1)) == 0) { /* 0, 1, 2, 4, ...: full */
		struct xlcfg_value **items = realloc(list->items, (n ? 2 * n : 1) * sizeof(*items));

		if (!items)
			return -ENOMEM;
		list->items = items;
	}
	list->items[list->nr_items++] = item;
	return 0;
}

/* ---- Lexer ---- */

static int peekc(const struct parser *p, size_t ahead)
{
	return p->off + ahead < p->len ? (unsigned char)p->src[p->off + ahead] : -1;
}

static int getc_(struct parser *p)
{
	int c = peekc(p, 0);

	if (c < 0)
		return c;
	p->off++;
	if (c == '\n') {
		p->at.line++;
		p->at.col = 1;
	} else {
		p->at.col++;
	}
	return c;
}

/* Spaces, tabs, the \r of \r\n, and comments (which leave their newline). */
static void skip_blanks(struct parser *p)
{
	for (;;) {
		int c = peekc(p, 0);

		if (c == ' ' || c == '\t' || (c == '\r' && peekc(p, 1) == '\n')) {
			getc_(p);
		} else if (c == '#') {
			while (peekc(p, 0) >= 0 && peekc(p, 0) != '\n')
				getc_(p);
		} else {
			return;
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \xHH: exactly two hex digits. */
static int lex_hex_escape(struct parser *p, const struct xlcfg_pos *esc)
{
	int hi = hexval(peekc(p, 0)), lo = hexval(peekc(p, 1));

	if (hi < 0 || lo < 0)
		return perr(p, esc, -EINVAL, "`\\x' needs two hex digits");
	getc_(p);
	getc_(p);
	return hi * 16 + lo;
}

/* \N, \NN, \NNN in octal, at most \377. */
static int lex_octal_escape(struct parser *p, int first, const struct xlcfg_pos *esc)
{
	int v = first - '0';

	for (int i = 0; i < 2 && peekc(p, 0) >= '0' && peekc(p, 0) <= '7'; i++)
		v = v * 8 + (getc_(p) - '0');
	if (v > 0377)
		return perr(p, esc, -EINVAL, "octal escape larger than \\377");
	return v;
}

/* After a backslash: the byte the escape stands for, or -errno. */
static int lex_escape(struct parser *p, const struct xlcfg_pos *esc)
{
	static const char simple[] = "\"\"''\\\\a\ab\bf\fn\nr\rt\tv\v";
	char shown[8];
	int c = getc_(p);

	if (c < 0 || c == '\n')
		return perr(p, esc, -EINVAL, "unterminated string");
	for (size_t i = 0; simple[i]; i += 2)
		if (simple[i] == c)
			return (unsigned char)simple[i + 1];
	if (c == 'x')
		return lex_hex_escape(p, esc);
	if (c >= '0' && c <= '7')
		return lex_octal_escape(p, c, esc);
	return perr(p, esc, -EINVAL, "invalid escape `\\%s' in string", show_byte(c, shown));
}

static int lex_string(struct parser *p)
{
	int quote = getc_(p);

	p->tok = T_STRING;
	p->tok_len = 0;
	for (;;) {
		struct xlcfg_pos at = p->at;
		int c = getc_(p);

		if (c < 0 || c == '\n')
			return perr(p, &p->tok_pos, -EINVAL, "unterminated string");
		if (c == quote)
			break;
		if (c == '\\' && (c = lex_escape(p, &at)) < 0)
			return c;
		if (c == 0)
			return perr(p, &at, -EINVAL, "NUL byte in string");
		if (p->tok_len >= XLCFG_MAX_STRING)
			return perr(p, &p->tok_pos, -E2BIG, "string longer than %d bytes",
				    XLCFG_MAX_STRING);
		p->text[p->tok_len++] = (char)c;
	}
	p->text[p->tok_len] = '\0';
	return 0;
}

static bool is_word_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static bool is_number_char(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == 'x';
}

/* A word or a number: the longest run of bytes ACCEPTed. */
static int lex_run(struct parser *p, enum tok type, bool (*accept)(int))
{
	p->tok = type;
	p->tok_len = 0;
	while (accept(peekc(p, 0))) {
		if (p->tok_len >= XLCFG_MAX_STRING)
			return perr(p, &p->tok_pos, -E2BIG, "word longer than %d bytes",
				    XLCFG_MAX_STRING);
		p->text[p->tok_len++] = (char)getc_(p);
	}
	p->text[p->tok_len] = '\0';
	return 0;
}

static int lex_punct(struct parser *p, int c)
{
	static const struct {
		char c;
		enum tok tok;
	} punct[] = { { '\n', T_NEWLINE }, { ';', T_SEMI },   { '=', T_EQ },
		      { ',', T_COMMA },	   { '[', T_LBRACK }, { ']', T_RBRACK } };
	char shown[8];

	if (c == '+' && peekc(p, 1) == '=') {
		getc_(p);
		getc_(p);
		p->tok = T_PLUSEQ;
		return 0;
	}
	for (size_t i = 0; i < sizeof(punct) / sizeof(punct[0]); i++) {
		if (punct[i].c == c) {
			getc_(p);
			p->tok = punct[i].tok;
			return 0;
		}
	}
	if (c == 0)
		return perr(p, &p->tok_pos, -EINVAL, "NUL byte in file");
	/* xl's hint: these usually mean a config written for xend's Python. */
	if (strchr("():+-.{}", c))
		return perr(p, &p->tok_pos, -EINVAL,
			    "unexpected `%s' (xl.cfg is not Python; see xl.cfg(5))",
			    show_byte(c, shown));
	return perr(p, &p->tok_pos, -EINVAL, "unexpected character `%s'", show_byte(c, shown));
}

/* Reads the next token into p->tok. */
static int next(struct parser *p)
{
	int c;

	skip_blanks(p);
	p->tok_pos = p->at;
	c = peekc(p, 0);
	if (c < 0) {
		p->tok = T_EOF;
		return 0;
	}
	if (c == '"' || c == '\'')
		return lex_string(p);
	if (c >= '0' && c <= '9')
		return lex_run(p, T_NUMBER, is_number_char);
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return lex_run(p, T_WORD, is_word_char);
	return lex_punct(p, c);
}

static int skip_newlines(struct parser *p)
{
	int rc = 0;

	while (!rc && p->tok == T_NEWLINE)
		rc = next(p);
	return rc;
}

/* ---- Parser ---- */

static int parse_value(struct parser *p, const char *key, unsigned int depth,
		       struct xlcfg_value **ret);

static int parse_atom(struct parser *p, struct xlcfg_value **ret)
{
	struct xlcfg_value *v =
		value_new(p->tok == T_STRING ? XLCFG_STRING : XLCFG_NUMBER, &p->tok_pos);
	int rc;

	if (!v || !(v->str = strdup(p->text))) {
		value_free(v);
		return oom(p);
	}
	v->len = p->tok_len;
	/* The next token may be a lexical error: then V is ours to free, as
	 * callers take a value only from a successful parse (fuzz-found leak,
	 * corpus xlcfg/leak-lex-error-after-value). */
	if ((rc = next(p))) {
		value_free(v);
		return rc;
	}
	*ret = v;
	return 0;
}

/* After an item: `,' (then maybe `]'), or `]'. Sets *DONE at `]'. */
static int parse_list_sep(struct parser *p, const struct xlcfg_value *list, bool *done)
{
	char found[48];
	int rc;

	if (p->tok == T_COMMA) {
		if ((rc = next(p)) || (rc = skip_newlines(p)))
			return rc;
	} else if (p->tok != T_RBRACK) {
		if (p->tok == T_EOF)
			return perr(p, &p->tok_pos, -EINVAL,
				    "unterminated list (the `[' is at line %u, column %u)",
				    list->pos.line, list->pos.col);
		return perr(p, &p->tok_pos, -EINVAL, "expected `,' or `]' in list, found %s",
			    tok_describe(p, found, sizeof(found)));
	}
	*done = p->tok == T_RBRACK;
	return *done ? next(p) : 0;
}

static int parse_list_items(struct parser *p, const char *key, unsigned int depth,
			    struct xlcfg_value *list)
{
	bool done = false;
	int rc;

	if (p->tok == T_RBRACK)
		return next(p); /* [ ] */
	while (!done) {
		struct xlcfg_value *item = NULL;
		struct xlcfg_pos at = p->tok_pos;

		if ((rc = parse_value(p, key, depth + 1, &item)))
			return rc;
		if ((rc = list_append(list, item)) < 0) {
			value_free(item);
			if (rc == -ENOMEM)
				return oom(p);
			return perr(p, &at, rc, "list has more than %d items", XLCFG_MAX_LIST);
		}
		if ((rc = skip_newlines(p)) || (rc = parse_list_sep(p, list, &done)))
			return rc;
	}
	return 0;
}

static int parse_list(struct parser *p, const char *key, unsigned int depth,
		      struct xlcfg_value **ret)
{
	struct xlcfg_value *list;
	int rc;

	if (depth >= XLCFG_MAX_DEPTH)
		return perr(p, &p->tok_pos, -E2BIG, "lists nested deeper than %d", XLCFG_MAX_DEPTH);
	if (!(list = value_new(XLCFG_LIST, &p->tok_pos)))
		return oom(p);
	if ((rc = next(p)) || (rc = skip_newlines(p)) ||
	    (rc = parse_list_items(p, key, depth, list))) {
		value_free(list);
		return rc;
	}
	*ret = list;
	return 0;
}

static int parse_value(struct parser *p, const char *key, unsigned int depth,
		       struct xlcfg_value **ret)
{
	char found[48];

	if (p->tok == T_STRING || p->tok == T_NUMBER)
		return parse_atom(p, ret);
	if (p->tok == T_LBRACK)
		return parse_list(p, key, depth, ret);
	if (p->tok == T_WORD)
		return perr(p, &p->tok_pos, -EINVAL,
			    "expected a value for `%s', found %s (strings need quotes)", key,
			    tok_describe(p, found, sizeof(found)));
	return perr(p, &p->tok_pos, -EINVAL,
		    "expected a value for `%s' (a string, a number or a list), found %s", key,
		    tok_describe(p, found, sizeof(found)));
}

/* ---- Settings ---- */

static struct xlcfg_setting *find(const struct xlcfg *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->nr_settings; i++)
		if (!strcmp(cfg->settings[i].key, key))
			return (struct xlcfg_setting *)&cfg->settings[i];
	return NULL;
}

/* PREV `+=' V for two atoms: V's text becomes PREV's followed by its own. */
static int concat_atoms(struct parser *p, const struct xlcfg_value *prev, struct xlcfg_value *v)
{
	char *s;

	if (prev->len + v->len > XLCFG_MAX_STRING)
		return perr(p, &v->pos, -E2BIG, "string longer than %d bytes after `+='",
			    XLCFG_MAX_STRING);
	if (!(s = malloc(prev->len + v->len + 1)))
		return oom(p);
	memcpy(s, prev->str, prev->len);
	memcpy(s + prev->len, v->str, v->len + 1);
	free(v->str);
	v->str = s;
	v->len += prev->len;
	if (prev->type == XLCFG_STRING)
		v->type = XLCFG_STRING;
	return 0;
}

/* PREV `+=' V for two lists: V's items become PREV's (moved) then its own. */
static int concat_lists(struct parser *p, struct xlcfg_value *prev, struct xlcfg_value *v)
{
	size_t n = prev->nr_items + v->nr_items;
	struct xlcfg_value **items;

	if (n > XLCFG_MAX_LIST)
		return perr(p, &v->pos, -E2BIG, "list has more than %d items after `+='",
			    XLCFG_MAX_LIST);
	if (!(items = malloc((n ? n : 1) * sizeof(*items))))
		return oom(p);
	/* An empty list may have no array at all: memcpy from NULL is undefined
	 * even for 0 bytes (fuzz/corpus/xlcfg/regress-empty-list-concat). */
	if (prev->nr_items)
		memcpy(items, prev->items, prev->nr_items * sizeof(*items));
	if (v->nr_items)
		memcpy(items + prev->nr_items, v->items, v->nr_items * sizeof(*items));
	free(v->items);
	v->items = items;
	v->nr_items = n;
	prev->nr_items = 0; /* its items now belong to V */
	return 0;
}

static int concat(struct parser *p, const char *key, struct xlcfg_value *prev,
		  struct xlcfg_value *v)
{
	if ((prev->type == XLCFG_LIST) != (v->type == XLCFG_LIST))
		return perr(p, &v->pos, -EINVAL,
			    "`%s += ...' can't add a list to a string or a string to a list", key);
	if (v->type == XLCFG_LIST)
		return concat_lists(p, prev, v);
	return concat_atoms(p, prev, v);
}

/* Records KEY (op) V, taking V in every case. */
static int store(struct parser *p, const char *key, const struct xlcfg_pos *pos, bool add,
		 struct xlcfg_value *v)
{
	struct xlcfg_setting *s = find(p->cfg, key);
	int rc = 0;

	if (s && add)
		rc = concat(p, key, s->value, v);
	else if (!s && p->cfg->nr_settings >= XLCFG_MAX_KEYS)
		rc = perr(p, pos, -E2BIG, "more than %d keys", XLCFG_MAX_KEYS);
	if (!rc && !s) {
		s = &p->cfg->settings[p->cfg->nr_settings];
		if (!(s->key = strdup(key)))
			rc = oom(p);
		else
			p->cfg->nr_settings++;
	}
	if (rc) {
		value_free(v);
		return rc;
	}
	value_free(s->value);
	s->value = v;
	s->pos = *pos;
	s->added = add;
	return 0;
}

static bool valid_key(const char *k)
{
	if (!(*k >= 'a' && *k <= 'z'))
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '.' ||
		      *k == '_'))
			return false;
	return true;
}

static int parse_key(struct parser *p, char *key)
{
	if (p->tok_len > XLCFG_MAX_KEY_LEN)
		return perr(p, &p->tok_pos, -E2BIG, "key longer than %d bytes", XLCFG_MAX_KEY_LEN);
	if (!valid_key(p->text))
		return perr(p, &p->tok_pos, -EINVAL, "invalid key `%s': keys are [a-z][a-z0-9._]*",
			    p->text);
	memcpy(key, p->text, p->tok_len + 1);
	return 0;
}

static int parse_setting(struct parser *p)
{
	char key[XLCFG_MAX_KEY_LEN + 1], found[48];
	struct xlcfg_pos pos = p->tok_pos;
	struct xlcfg_value *v = NULL;
	bool add;
	int rc;

	if ((rc = parse_key(p, key)) || (rc = next(p)))
		return rc;
	if (p->tok != T_EQ && p->tok != T_PLUSEQ)
		return perr(p, &p->tok_pos, -EINVAL, "expected `=' or `+=' after `%s', found %s",
			    key, tok_describe(p, found, sizeof(found)));
	add = p->tok == T_PLUSEQ;
	if ((rc = next(p)) || (rc = parse_value(p, key, 0, &v)))
		return rc;
	if (p->tok != T_NEWLINE && p->tok != T_SEMI && p->tok != T_EOF) {
		value_free(v);
		return perr(p, &p->tok_pos, -EINVAL,
			    "expected end of line or `;' after the value of `%s', found %s", key,
			    tok_describe(p, found, sizeof(found)));
	}
	return store(p, key, &pos, add, v);
}

static int parse_settings(struct parser *p)
{
	char found[48];
	int rc;

	for (;;) {
		if ((rc = next(p)))
			return rc;
		if (p->tok == T_EOF)
			return 0;
		if (p->tok == T_NEWLINE || p->tok == T_SEMI)
			continue;
		if (p->tok != T_WORD)
			return perr(p, &p->tok_pos, -EINVAL, "expected a key, found %s",
				    tok_describe(p, found, sizeof(found)));
		if ((rc = parse_setting(p)))
			return rc;
		/* parse_setting stopped on the terminator; T_EOF ends the loop. */
		if (p->tok == T_EOF)
			return 0;
	}
}

/* ---- Configs ---- */

void xlcfg_destroy(struct xlcfg *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nr_settings; i++) {
		free(cfg->settings[i].key);
		value_free(cfg->settings[i].value);
	}
	for (size_t i = 0; i < cfg->nr_sources; i++)
		free(cfg->sources[i]);
	free(cfg);
}

/* A deep copy whose positions still point at CFG's source names: the copy
 * takes over those names when it replaces CFG (parse_more). */
static struct xlcfg *clone_settings(const struct xlcfg *cfg)
{
	struct xlcfg *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	for (; c->nr_settings < cfg->nr_settings; c->nr_settings++) {
		const struct xlcfg_setting *s = &cfg->settings[c->nr_settings];
		struct xlcfg_setting *d = &c->settings[c->nr_settings];

		*d = *s;
		d->key = strdup(s->key);
		d->value = value_clone(s->value);
		if (!d->key || !d->value) {
			c->nr_settings++;
			xlcfg_destroy(c);
			return NULL;
		}
	}
	return c;
}

static int add_source(struct xlcfg *cfg, const char *source, struct xlcfg_err *err)
{
	struct xlcfg_pos pos = { .source = source };

	if (cfg->nr_sources >= XLCFG_MAX_SOURCES) {
		xlcfg_errorf(err, &pos, "more than %d configuration sources", XLCFG_MAX_SOURCES);
		return -E2BIG;
	}
	if (!(cfg->sources[cfg->nr_sources] = strdup(source))) {
		xlcfg_errorf(err, &pos, "out of memory");
		return -ENOMEM;
	}
	cfg->nr_sources++;
	return 0;
}

/* Parses into CFG directly; on error CFG holds a partial parse. */
static int parse_into(struct xlcfg *cfg, const char *source, const char *data, size_t len,
		      struct xlcfg_err *err)
{
	struct parser *p;
	int rc;

	if ((rc = add_source(cfg, source, err)))
		return rc;
	source = cfg->sources[cfg->nr_sources - 1];
	if (len > XLCFG_MAX_FILE) {
		xlcfg_errorf(err, &(struct xlcfg_pos){ .source = source }, "larger than %u bytes",
			     XLCFG_MAX_FILE);
		return -EFBIG;
	}
	/* The token buffer is 4 KiB: keep it off the caller's stack. */
	if (!(p = calloc(1, sizeof(*p)))) {
		xlcfg_errorf(err, &(struct xlcfg_pos){ .source = source }, "out of memory");
		return -ENOMEM;
	}
	p->cfg = cfg;
	p->src = data;
	p->len = len;
	p->err = err;
	p->at = (struct xlcfg_pos){ .source = source, .line = 1, .col = 1 };
	rc = parse_settings(p);
	free(p);
	return rc;
}

int xlcfg_parse(const char *source, const char *data, size_t len, struct xlcfg **ret,
		struct xlcfg_err *err)
{
	struct xlcfg *cfg = calloc(1, sizeof(*cfg));
	int rc;

	if (!cfg) {
		xlcfg_errorf(err, &(struct xlcfg_pos){ .source = source }, "out of memory");
		return -ENOMEM;
	}
	if ((rc = parse_into(cfg, source, data, len, err))) {
		xlcfg_destroy(cfg);
		return rc;
	}
	*ret = cfg;
	return 0;
}

int xlcfg_parse_more(struct xlcfg *cfg, const char *source, const char *data, size_t len,
		     struct xlcfg_err *err)
{
	struct xlcfg *c = clone_settings(cfg);
	int rc;

	if (!c) {
		xlcfg_errorf(err, &(struct xlcfg_pos){ .source = source }, "out of memory");
		return -ENOMEM;
	}
	/* Sources first, so C can be freed on error without freeing names CFG
	 * still uses: move them over only on success. */
	memcpy(c->sources, cfg->sources, sizeof(c->sources));
	c->nr_sources = cfg->nr_sources;
	rc = parse_into(c, source, data, len, err);
	if (rc) {
		for (size_t i = cfg->nr_sources; i < c->nr_sources; i++)
			free(c->sources[i]);
		c->nr_sources = 0;
		xlcfg_destroy(c);
		return rc;
	}
	for (size_t i = 0; i < cfg->nr_settings; i++) {
		free(cfg->settings[i].key);
		value_free(cfg->settings[i].value);
	}
	*cfg = *c;
	free(c);
	return 0;
}

static int read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += n;
	}
	return 0;
}

/* The whole file, bounded; *RET_BUF is malloc'd. */
static int slurp(const char *path, char **ret_buf, size_t *ret_len, struct xlcfg_err *err)
{
	const struct xlcfg_pos pos = { .source = path };
	struct stat st;
	char *buf = NULL;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		xlcfg_errorf(err, &pos, "cannot open: %s", strerror(-rc));
		return rc;
	}
	rc = fstat(fd, &st) < 0 ? -errno : 0;
	if (!rc && !S_ISREG(st.st_mode))
		rc = -EINVAL;
	else if (!rc && st.st_size > XLCFG_MAX_FILE)
		rc = -EFBIG;
	else if (!rc && !(buf = malloc(st.st_size ? st.st_size : 1)))
		rc = -ENOMEM;
	else if (!rc)
		rc = read_all(fd, buf, st.st_size);
	close(fd);
	if (rc == -EINVAL)
		xlcfg_errorf(err, &pos, "not a regular file");
	else if (rc == -EFBIG)
		xlcfg_errorf(err, &pos, "larger than %u bytes", XLCFG_MAX_FILE);
	else if (rc)
		xlcfg_errorf(err, &pos, "cannot read: %s", strerror(-rc));
	if (rc) {
		free(buf);
		return rc;
	}
	*ret_buf = buf;
	*ret_len = st.st_size;
	return 0;
}

int xlcfg_parse_file(const char *path, struct xlcfg **ret, struct xlcfg_err *err)
{
	size_t len = 0;
	char *buf = NULL;
	int rc;

	if ((rc = slurp(path, &buf, &len, err)))
		return rc;
	rc = xlcfg_parse(path, buf, len, ret, err);
	free(buf);
	return rc;
}

/* ---- Access ---- */

const char *xlcfg_source(const struct xlcfg *cfg)
{
	return cfg->nr_sources ? cfg->sources[0] : "";
}

size_t xlcfg_nr_keys(const struct xlcfg *cfg)
{
	return cfg->nr_settings;
}

const char *xlcfg_key(const struct xlcfg *cfg, size_t i, const struct xlcfg_pos **ret_pos)
{
	if (i >= cfg->nr_settings)
		return NULL;
	if (ret_pos)
		*ret_pos = &cfg->settings[i].pos;
	return cfg->settings[i].key;
}

const struct xlcfg_value *xlcfg_get(const struct xlcfg *cfg, const char *key)
{
	const struct xlcfg_setting *s = find(cfg, key);

	return s ? s->value : NULL;
}

int xlcfg_get_string(const struct xlcfg *cfg, const char *key, const char **ret,
		     struct xlcfg_err *err)
{
	const struct xlcfg_value *v = xlcfg_get(cfg, key);

	if (!v)
		return -ENOENT;
	if (v->type == XLCFG_LIST) {
		xlcfg_errorf(err, &v->pos, "`%s' must be a string, not a list", key);
		return -EINVAL;
	}
	*ret = v->str;
	return 0;
}

int xlcfg_parse_u64(const char *text, uint64_t *ret)
{
	unsigned int base = 10;
	uint64_t v = 0;

	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		base = 16, text += 2;
	else if (text[0] == '0' && text[1])
		base = 8, text++;
	if (!*text)
		return -EINVAL;
	for (; *text; text++) {
		int d = hexval((unsigned char)*text);

		if (d < 0 || (unsigned int)d >= base)
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*ret = v;
	return 0;
}

int xlcfg_get_u64(const struct xlcfg *cfg, const char *key, uint64_t min, uint64_t max,
		  uint64_t *ret, struct xlcfg_err *err)
{
	const struct xlcfg_setting *s = find(cfg, key);
	const struct xlcfg_value *v = s ? s->value : NULL;
	uint64_t n;
	int rc;

	if (!v)
		return -ENOENT;
	if (v->type == XLCFG_LIST) {
		xlcfg_errorf(err, &v->pos, "`%s' must be a number, not a list", key);
		return -EINVAL;
	}
	if (s->added) {
		xlcfg_errorf(err, &v->pos, "`%s': `+=' can't be used with numbers", key);
		return -EINVAL;
	}
	if ((rc = xlcfg_parse_u64(v->str, &n)) == -ERANGE) {
		xlcfg_errorf(err, &v->pos, "`%s': `%.40s' is too large", key, v->str);
		return -EINVAL;
	}
	if (rc) {
		xlcfg_errorf(err, &v->pos, "`%s': `%.40s' is not a number", key, v->str);
		return -EINVAL;
	}
	if (n < min || n > max) {
		xlcfg_errorf(err, &v->pos, "`%s' = %llu is out of range (%llu..%llu)", key,
			     (unsigned long long)n, (unsigned long long)min,
			     (unsigned long long)max);
		return -EINVAL;
	}
	*ret = n;
	return 0;
}

int xlcfg_get_bool(const struct xlcfg *cfg, const char *key, bool *ret, struct xlcfg_err *err)
{
	uint64_t n;
	int rc = xlcfg_get_u64(cfg, key, 0, UINT64_MAX, &n, err);

	if (!rc)
		*ret = n != 0;
	return rc;
}

int xlcfg_get_string_list(const struct xlcfg *cfg, const char *key, const struct xlcfg_value **ret,
			  struct xlcfg_err *err)
{
	const struct xlcfg_value *v = xlcfg_get(cfg, key);

	if (!v)
		return -ENOENT;
	if (v->type != XLCFG_LIST) {
		xlcfg_errorf(err, &v->pos, "`%s' must be a list, not a single value", key);
		return -EINVAL;
	}
	for (size_t i = 0; i < v->nr_items; i++) {
		if (v->items[i]->type == XLCFG_LIST) {
			xlcfg_errorf(err, &v->items[i]->pos,
				     "item %zu of `%s' must be a string, not a list", i + 1, key);
			return -EINVAL;
		}
	}
	*ret = v;
	return 0;
}
