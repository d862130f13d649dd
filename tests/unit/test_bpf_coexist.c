/* test_bpf_coexist.c: libpcap and librte_bpf both define bpf_validate. In
 * a binary linked like sluice-dp (DPDK static by default in release
 * builds), each library must still reach its own: pcap_setfilter validates
 * a classic BPF filter with libpcap's, rte_bpf_load an eBPF program with
 * DPDK's. If either interposed on the other, one of these would fail or
 * crash. The filter stage will call both. */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <pcap/pcap.h>
#include <rte_bpf.h>

/* A savefile with one UDP packet to port 53 and one to port 54. */
static void write_trace(const char *path)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	const uint32_t gh[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, DLT_EN10MB};
	fwrite(gh, sizeof(gh), 1, f);
	for (int port = 53; port <= 54; port++) {
		uint8_t pkt[42] = {0};
		pkt[12] = 0x08;
		pkt[14] = 0x45;
		pkt[17] = 28;
		pkt[22] = 64;
		pkt[23] = 17;
		pkt[37] = (uint8_t)port;
		const uint32_t rh[4] = {0, 0, sizeof(pkt), sizeof(pkt)};
		fwrite(rh, sizeof(rh), 1, f);
		fwrite(pkt, sizeof(pkt), 1, f);
	}
	fclose(f);
}

static void count(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	(void)h;
	(void)bytes;
	(*(int *)(void *)user)++;
}

static void test_pcap_compile(void **state)
{
	(void)state;
	char path[] = "/tmp/sl-bpf-coexist-XXXXXX";
	char err[PCAP_ERRBUF_SIZE];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	write_trace(path);
	pcap_t *p = pcap_open_offline(path, err);
	assert_non_null(p);
	struct bpf_program prog;
	assert_int_equal(pcap_compile(p, &prog, "udp and dst port 53", 1, PCAP_NETMASK_UNKNOWN), 0);
	/* pcap_setfilter runs libpcap's bpf_validate on the program. */
	assert_int_equal(pcap_setfilter(p, &prog), 0);
	int n = 0;
	assert_int_equal(pcap_dispatch(p, -1, count, (u_char *)&n), 1);
	assert_int_equal(n, 1);
	/* A jump past the end: libpcap's validator must refuse it. */
	struct bpf_insn bad[] = {BPF_STMT(BPF_JMP | BPF_JA, 5), BPF_STMT(BPF_RET | BPF_K, 0)};
	struct bpf_program badp = {2, bad};
	assert_int_equal(pcap_setfilter(p, &badp), -1);
	assert_non_null(strstr(pcap_geterr(p), "not valid"));
	/* The global symbol, as dlsym or any other shared library resolves
	 * it, is libpcap's: DPDK's internal one must not be exported from
	 * the executable (--export-dynamic would do that). */
	int (*validate)(const struct bpf_insn *, int) =
	    (int (*)(const struct bpf_insn *, int))dlsym(RTLD_DEFAULT, "bpf_validate");
	Dl_info info;
	assert_non_null(validate);
	assert_true(dladdr((void *)validate, &info) != 0);
	if (!info.dli_fname || !strstr(info.dli_fname, "libpcap"))
		fail_msg("bpf_validate resolves to %s, not libpcap", info.dli_fname);
	assert_int_equal(validate(prog.bf_insns, (int)prog.bf_len), 1);
	assert_int_equal(validate(bad, 2), 0);
	pcap_freecode(&prog);
	pcap_close(p);
	unlink(path);
}

static void test_rte_bpf_load(void **state)
{
	(void)state;
	/* r0 = ctx[0] + 7; exit */
	struct ebpf_insn ins[] = {
	    {.code = (BPF_LDX | BPF_MEM | EBPF_DW), .dst_reg = EBPF_REG_0, .src_reg = EBPF_REG_1},
	    {.code = (BPF_ALU | BPF_ADD | BPF_K), .dst_reg = EBPF_REG_0, .imm = 7},
	    {.code = (BPF_JMP | EBPF_EXIT)},
	};
	struct rte_bpf_prm prm = {
	    .ins = ins,
	    .nb_ins = 3,
	    .prog_arg = {.type = RTE_BPF_ARG_PTR, .size = sizeof(uint64_t)},
	};
	struct rte_bpf *b = rte_bpf_load(&prm);
	assert_non_null(b);
	uint64_t ctx = 35;
	assert_int_equal(rte_bpf_exec(b, &ctx), 42);
	rte_bpf_destroy(b);
	/* A jump out of the program must be refused by DPDK's validator. */
	struct ebpf_insn bad[] = {
	    {.code = (BPF_JMP | BPF_JA), .off = 9},
	    {.code = (BPF_JMP | EBPF_EXIT)},
	};
	prm.ins = bad;
	prm.nb_ins = 2;
	assert_null(rte_bpf_load(&prm));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pcap_compile),
	    cmocka_unit_test(test_rte_bpf_load),
	};
	return cmocka_run_group_tests_name("bpf_coexist", tests, NULL, NULL);
}
