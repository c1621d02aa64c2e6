/*
 * A small streaming JSON writer for --json output: objects and arrays
 * nest, commas and two-space indentation are placed for the caller.
 */
#ifndef XENON_JSON_H
#define XENON_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	unsigned int depth;
	bool need_comma[JSON_MAX_DEPTH + 1]; /* per level: something was written */
	bool after_key;			     /* the next value follows "key": */
};

void json_init(struct json *j, FILE *f);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s); /* NULL: null */
void json_uint(struct json *j, uint64_t v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif /* XENON_JSON_H */
