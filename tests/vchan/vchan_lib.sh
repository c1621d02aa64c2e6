# The vchan end-to-end tests' common part, sourced after proc_lib.sh: the
# guest program (bench/proc_vchan_guest.c), a config for it, a domain's
# log, creating domains from configs, and a SIGKILL of a domain's process by the pid its guest printed.
K=bench-proc-vchan-guest
cfg_kernel() { # program (in G), file, name, domid, extra
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 16\nvcpus = 1\ndomid = %s\nextra = "%s"\n' \
		"$3" "$G/$1" "$4" "$5" >"$D/$2"
}
cfg() { cfg_kernel "$K" "$@"; } # file, name, domid, extra
create() { # config files in D, created in order
	local f
	for f in "$@"; do timeout 10 "$X" $R create "$D/$f" >/dev/null; done
}
log() { echo "$RD/domain-$1.log"; }
kill_guest() { # domid
	local pid
	pid=$(sed -n 's/^vchan: pid \([0-9]*\).*/\1/p' "$(log "$1")")
	[ -n "$pid" ] && kill -9 "$pid"
}
