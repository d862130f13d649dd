/* xsk_prog.bpf.c: the XDP program the af_xdp driver attaches (through
 * libxdp's dispatcher, so other XDP programs on the interface keep
 * running). A frame arriving on a queue that a sluice XSK is bound to goes
 * to that socket; everything else, and every queue no socket holds, goes
 * on to the kernel (or the next program in the dispatcher). Built by clang
 * and embedded in sluice-dp, so nothing is read from disk at run time. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

/* Queue id -> XSK; the config bounds queue + instances below 1024. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u32);
} sl_xsks SEC(".maps");

/* The pid of the sluice-dp that attached this copy: after a crash, the next
 * start finds the program, sees its owner gone and replaces it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sl_owner SEC(".maps");

/* libxdp: run after higher-priority programs, and let the dispatcher go on
 * to the next program when this one passes a frame. */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(sl_xsk);

SEC("xdp")
int sl_xsk(struct xdp_md *ctx)
{
	/* The low bits of flags are what a lookup miss returns. */
	return bpf_redirect_map(&sl_xsks, ctx->rx_queue_index, XDP_PASS);
}

char _license[] SEC("license") = "Dual BSD/GPL";
