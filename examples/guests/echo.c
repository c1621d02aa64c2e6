/*
 * echo: a console guest. Reads its console (xencons_read), writes each line
 * back uppercased, and powers off on the line "quit".
 *
 *   extra = "echo.flood=N"   instead: write N bytes of numbered lines
 *                            ("%07u abcdefghijklmnopqrstuvwxyz...\n", 64 bytes
 *                            each) through printk, then power off -- the
 *                            back end's flow control test.
 */
#include <stdio.h>

#include "guest_args.h"

#include <xen/sched.h>

#define ECHO_LINE_MAX 256

static struct xencons_guest echo_cons;

/* One 64-byte line of the flood: what tests/integration/console.sh expects. */
static void echo_flood(unsigned long bytes)
{
	char line[80];
	unsigned long done = 0;
	unsigned int i;

	for (i = 0; done < bytes; i++) {
		int n = xen_snprintf(line, sizeof(line), "%07u %s\n", i,
				     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234");
		size_t len = (size_t)n < bytes - done ? (size_t)n : bytes - done;

		if (xencons_write(line, len) != (long)len) {
			fprintf(stderr, "echo: console write failed at %lu bytes\n", done);
			return;
		}
		done += len;
	}
}

/* Sleeps until input arrives; events off while testing (pingpong.c). */
static long echo_read(char *buf, size_t len)
{
	long n;

	for (;;) {
		xen_irq_disable();
		n = xencons_read(buf, len);
		if (n)
			break;
		xen_block();
	}
	xen_irq_enable();
	return n;
}

static void echo_loop(void)
{
	char line[ECHO_LINE_MAX + 1], buf[128];
	size_t len = 0;
	long n, i;

	printk("echo: ready\n");
	for (;;) {
		n = echo_read(buf, sizeof(buf));
		if (n < 0)
			return;
		for (i = 0; i < n; i++) {
			char ch = buf[i];

			if (ch != '\n' && ch != '\r' && len < ECHO_LINE_MAX) {
				line[len++] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
				continue;
			}
			line[len] = '\0';
			if (len == 4 && !strcmp(line, "QUIT")) {
				printk("echo: bye\n");
				return;
			}
			line[len++] = '\n';
			xencons_write(line, len);
			len = 0;
		}
	}
}

void start_kernel(start_info_t *si)
{
	unsigned long flood = guest_arg(si, "echo.flood", 0);
	int rc = xencons_init(&echo_cons);

	if (rc < 0) {
		fprintf(stderr, "echo: no console: %d\n", rc);
		xen_shutdown(SHUTDOWN_crash);
	}
	if (flood)
		echo_flood(flood);
	else
		echo_loop();
	xen_shutdown(SHUTDOWN_poweroff);
}
