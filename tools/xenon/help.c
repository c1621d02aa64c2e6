/* xenon help [COMMAND|config]: the table's summaries, one command's usage,
 * or the config file's device keys (a topic, not a command). */
#include <string.h>

#include "xenon.h"

/* `xenon help config': the device keys of a config file (xenon create). */
static const char config_devices[] =
	"DEVICES in a config file (xenon create)\n"
	"  disk = [ 'target=PATH, vdev=VDEV, access=rw|ro, format=raw', ... ]\n"
	"  disk = [ 'PATH,raw,VDEV,rw', ... ]          (xl's positional form)\n"
	"      A raw image served by dom0's block back end. A relative PATH is beside\n"
	"      the config file; the image must exist. access: r/ro or w/rw (default rw).\n"
	"      Written to the store, one transaction, with Xen's permissions:\n"
	"        /local/domain/0/backend/vbd/N/DEVID/  (dom0's, N reads) frontend,\n"
	"          frontend-id, online, state, params, mode, type, device-type, dev, ...\n"
	"        /local/domain/N/device/vbd/DEVID/     (N's, dom0 reads) backend,\n"
	"          backend-id, state, virtual-device, device-type\n"
	"      DEVID is the vdev's virtual-device number (libxl's rule): xvdX[P] or\n"
	"      dDpP (to d15p15: 202<<8 | D<<4 | P, xvda = 51712, xvdb = 51728; beyond,\n"
	"      to disk 2^20-1, partition 255: 1<<28 | D<<8 | P), hdX[P] (hda-hdd, P to\n"
	"      63), sdX[P] (sda-sdp, P to 15). Other names are refused.\n"
	"  vchan = [ 'name=NAME, peer=DOMID|DOMAIN', ... ]\n"
	"      This domain is the vchan server towards the peer: the toolstack creates\n"
	"      /local/domain/N/data/vchan/PEERID/NAME (N's, the peer reads), where the\n"
	"      server writes ring-ref and event-channel, and records the pairing in\n"
	"      /local/domain/N/device/vchan/I/{name,peer,path,role}. Also: read=BYTES,\n"
	"      write=BYTES (minimum ring sizes), and the explicit form\n"
	"      'peer=DOMID,path=STORE/PATH,role=server|client'.\n"
	"  `xenon destroy' removes the domain's back-end directories with its home;\n"
	"  a domain that dies on its own has them removed by the back-end service\n"
	"  and by xenon-monitor (with its home).\n";

int xenon_cmd_help(const struct xenon_ctx *ctx, int argc, char **argv)
{
	const struct xenon_cmd *cmd;

	if (argc > 2)
		return xenon_usage_error(ctx, "too many arguments");
	if (argc == 1) {
		xenon_print_commands(stdout);
		return XENON_EXIT_OK;
	}
	if (!strcmp(argv[1], "config")) {
		fputs(config_devices, stdout);
		return XENON_EXIT_OK;
	}
	if (!(cmd = xenon_find_command(argv[1]))) {
		fprintf(stderr, "xenon: help: unknown command `%s' (see `xenon help')\n", argv[1]);
		return XENON_EXIT_USAGE;
	}
	xenon_print_usage(stdout, cmd, true);
	return XENON_EXIT_OK;
}
