/*
 * hello: the smallest process domain. Prints one line through the
 * hypervisor console (HYPERVISOR_console_io; the console ring once the back
 * end exists) and to its log (stdout), then powers off.
 */
#include <stdio.h>
#include <string.h>

#include "procdom_rt.h"

#include <xen/sched.h>

void start_kernel(start_info_t *si)
{
	char line[160], magic[sizeof(si->magic) + 1];
	int n;

	/* The formatter has no precision: bound the magic string by hand. */
	memcpy(magic, si->magic, sizeof(si->magic));
	magic[sizeof(si->magic)] = '\0';
	n = xen_snprintf(line, sizeof(line), "hello from domain %u (%s, %u vCPUs)\n",
			 (unsigned int)procdom_domid(), magic, procdom_nr_vcpus());
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	HYPERVISOR_console_io(CONSOLEIO_write, n, line);
	fputs(line, stdout);
	fflush(stdout);
	xen_shutdown(SHUTDOWN_poweroff);
}
