# The vchan end-to-end tests' common part, sourced after proc_lib.sh: the
# guest program (bench/proc_vchan_guest.c), a config for it, a domain's
# log, and a SIGKILL of a domain's process by the pid its guest printed.
K=bench-proc-vchan-guest
cfg() { # file, name, domid, extra
	printf 'name = "%s"\ntype = "process"\nkernel = "%s"\nmemory = 16\nvcpus = 1\ndomid = %s\nextra = "%s"\n' \
		"$2" "$G/$K" "$3" "$4" >"$D/$1"
}
log() { echo "$RD/domain-$1.log"; }
kill_guest() { # domid
	local pid
	pid=$(sed -n 's/^vchan: pid \([0-9]*\).*/\1/p' "$(log "$1")")
	[ -n "$pid" ] && kill -9 "$pid"
}
