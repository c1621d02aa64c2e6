/*
 * Example guests take their parameters from the kernel command line
 * (start_info's cmd_line, the config's `extra`), as "name.key=value" words.
 */
#ifndef XENON_GUEST_ARGS_H
#define XENON_GUEST_ARGS_H

#include <stdlib.h>
#include <string.h>

#include "procdom_rt.h"

/* The value of `key` (e.g. "pingpong.port") as a number, or def. */
static inline unsigned long guest_arg(const start_info_t *si, const char *key, unsigned long def)
{
	char line[MAX_GUEST_CMDLINE + 1];
	size_t klen = strlen(key);
	char *w, *save = NULL;

	memcpy(line, si->cmd_line, MAX_GUEST_CMDLINE);
	line[MAX_GUEST_CMDLINE] = '\0';
	for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strncmp(w, key, klen) == 0 && w[klen] == '=')
			return strtoul(w + klen + 1, NULL, 0);
	}
	return def;
}

/* Whether the word `word` appears on the command line. */
static inline int guest_flag(const start_info_t *si, const char *word)
{
	char line[MAX_GUEST_CMDLINE + 1];
	char *w, *save = NULL;

	memcpy(line, si->cmd_line, MAX_GUEST_CMDLINE);
	line[MAX_GUEST_CMDLINE] = '\0';
	for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strcmp(w, word) == 0)
			return 1;
	}
	return 0;
}

#endif
