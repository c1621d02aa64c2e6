/*
 * bench-proc-create's baseline process: says it is running (one byte on
 * fd 3), then stays alive until killed, as an idle domain does.
 */
#include <unistd.h>

int main(void)
{
	if (write(3, "R", 1) != 1)
		return 1;
	for (;;)
		pause();
}
