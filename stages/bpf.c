/* bpf.c: the `bpf` stage runs the operator's own eBPF program (an ELF
 * object built with `clang -target bpf`) on each packet and sends the packet
 * to output out<V>, V being the program's return value; a value of `outputs`
 * or more is a counted drop (`out_of_range`). rte_bpf_elf_load loads and
 * verifies the program, and its JIT runs it.
 *
 * The program gets the packet's mbuf (RTE_BPF_ARG_PTR_MBUF). It reads packet
 * bytes with BPF_LD_ABS/BPF_LD_IND (clang: __builtin load_byte/half/word),
 * which rte_bpf bounds by pkt_len and reads across chained segments; a load
 * past the end ends the program with 0. Direct access through buf_addr is
 * refused by giving the verifier a data size of 0, and stores through any
 * register but the frame pointer are refused here before loading, since
 * rte_bpf's verifier would let a program rewrite the mbuf's lengths and
 * offsets, which every later stage trusts. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_bpf.h>
#include <rte_errno.h>

#include "stages/stage.h"

#define BPF_OBJECT_MAX (16u << 20) /* bytes of an ELF object we read */

enum { BPF_DROP_OUT_OF_RANGE = 1 };

static const char *const bpf_outputs[] = {"out0"};
static const char *const bpf_drops[] = {"out_of_range"};

struct bpf_conf {
	char *object;
	char *section;
	uint64_t outputs;
};

struct bpf_state {
	struct rte_bpf *bpf;
	uint64_t (*jit)(void *); /* NULL: the interpreter runs the program */
	uint16_t n_out;
};

static const struct sl_param bpf_params[] = {
    {.name = "object",
     .kind = SL_PARAM_FILE,
     .offset = offsetof(struct bpf_conf, object),
     .required = true,
     .help = "eBPF ELF object (clang -target bpf -O2 -c)"},
    {.name = "section",
     .kind = SL_PARAM_STR,
     .offset = offsetof(struct bpf_conf, section),
     .required = true,
     .help = "ELF section holding the program"},
    {.name = "outputs",
     .kind = SL_PARAM_UINT,
     .offset = offsetof(struct bpf_conf, outputs),
     .min = 1,
     .max = SL_STAGE_MAX_OUTPUTS,
     .def = 1,
     .help = "output ports out0..out<N-1>; the program's return value picks one"},
};

static int bpf_check(const void *conf, struct sl_check *chk)
{
	const struct bpf_conf *c = conf;
	size_t n = strlen(c->section);

	if (n == 0 || n > 255) {
		chk->param = "section";
		chk->item = -1;
		snprintf(chk->msg, sizeof(chk->msg), "a section name of 1 to 255 characters");
		return -1;
	}
	return 0;
}

static unsigned bpf_conf_outputs(const void *conf, char (*names)[SL_LABEL_MAX], unsigned max)
{
	const struct bpf_conf *c = conf;
	unsigned n = (unsigned)RTE_MIN(c->outputs, (uint64_t)max);

	for (unsigned i = 0; i < n; i++)
		snprintf(names[i], SL_LABEL_MAX, "out%u", i);
	return n;
}

/* The whole object, read from fd (which this closes) into memory. */
static uint8_t *bpf_read_all(int fd, size_t *size, char *err, size_t len)
{
	struct stat sb;
	uint8_t *buf = NULL;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, len, "not a regular file");
		goto out;
	}
	if (sb.st_size <= 0 || (uint64_t)sb.st_size > BPF_OBJECT_MAX) {
		snprintf(err, len, "%lld bytes (1 to %u)", (long long)sb.st_size, BPF_OBJECT_MAX);
		goto out;
	}
	*size = (size_t)sb.st_size;
	buf = malloc(*size);
	if (!buf) {
		snprintf(err, len, "out of memory");
		goto out;
	}
	for (size_t got = 0; got < *size;) {
		ssize_t r = read(fd, buf + got, *size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, len, "read: %s", r < 0 ? strerror(errno) : "file shrank");
			free(buf);
			buf = NULL;
			goto out;
		}
		got += (size_t)r;
	}
out:
	close(fd);
	return buf;
}

/* Check that buf is an eBPF ELF object whose section `name` holds code that
 * stores only to its stack (r10 + off): rte_bpf's verifier lets a program
 * write most mbuf fields. jit_ok is cleared when the code holds a jset with
 * an immediate that fits in a signed byte: DPDK 22.11's x86 JIT encodes it
 * as `test r64, imm8`, which x86 does not have, and runs garbage. */
static int bpf_vet(const uint8_t *buf, size_t size, const char *name, bool *jit_ok, char *err,
		   size_t len)
{
	int rc = -1;
	size_t shstrndx;

	elf_version(EV_CURRENT);
	Elf *e = elf_memory((char *)(uintptr_t)buf, size);
	GElf_Ehdr eh;
	if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64) {
		snprintf(err, len, "not a 64-bit ELF object");
		goto out;
	}
	if (eh.e_machine != EM_BPF) {
		snprintf(err, len, "ELF machine %u, not eBPF (build with clang -target bpf)",
			 eh.e_machine);
		goto out;
	}
	if (elf_getshdrstrndx(e, &shstrndx) != 0) {
		snprintf(err, len, "no section name table: %s", elf_errmsg(-1));
		goto out;
	}
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *sn;
		if (!gelf_getshdr(scn, &sh) || !(sn = elf_strptr(e, shstrndx, sh.sh_name)))
			continue;
		if (strcmp(sn, name) != 0 || sh.sh_type != SHT_PROGBITS)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size == 0 || d->d_size % sizeof(struct ebpf_insn)) {
			snprintf(err, len, "section '%s' holds no eBPF code", name);
			goto out;
		}
		for (size_t i = 0; i < d->d_size / sizeof(struct ebpf_insn); i++) {
			struct ebpf_insn in;
			memcpy(&in, (const uint8_t *)d->d_buf + i * sizeof(in), sizeof(in));
			uint8_t cls = BPF_CLASS(in.code);
			if ((cls == BPF_ST || cls == BPF_STX) && in.dst_reg != EBPF_REG_10) {
				snprintf(err, len,
					 "section '%s', instruction %zu stores through "
					 "r%u: a program may write only its stack (r10)",
					 name, i, in.dst_reg);
				goto out;
			}
			if (in.code == (BPF_JMP | BPF_JSET | BPF_K) && in.imm == (int8_t)in.imm)
				*jit_ok = false;
		}
		rc = 0;
		goto out;
	}
	snprintf(err, len, "no section '%s'", name);
out:
	if (e)
		elf_end(e);
	return rc;
}

static int bpf_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct bpf_conf *c = st->conf;
	struct bpf_state *s = st->state;
	size_t size = 0;
	int mfd = -1;
	bool jit_ok = true;
	char why[256] = "";

	/* The runtime made st->n_outputs from conf_outputs; never index past it. */
	s->n_out = (uint16_t)RTE_MIN(c->outputs, (uint64_t)st->n_outputs);
	int fd = env->open_file(env, c->object, false, err, len);
	if (fd < 0)
		return -1;
	uint8_t *buf = bpf_read_all(fd, &size, why, sizeof(why));
	if (!buf)
		goto fail;
	/* rte_bpf_elf_load opens a path itself: give it a sealed in-memory
	 * copy of what was vetted, so that the file cannot change between
	 * the check and the load. */
	if (bpf_vet(buf, size, c->section, &jit_ok, why, sizeof(why)) < 0)
		goto fail;
	mfd = memfd_create("sluice-bpf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0 || write(mfd, buf, size) != (ssize_t)size ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		snprintf(why, sizeof(why), "cannot copy into memory: %s", strerror(errno));
		goto fail;
	}
	free(buf);
	buf = NULL;

	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	const struct rte_bpf_prm prm = {
	    .prog_arg = {.type = RTE_BPF_ARG_PTR_MBUF,
			 .size = sizeof(struct rte_mbuf),
			 .buf_size = 0},
	};
	s->bpf = rte_bpf_elf_load(&prm, path, c->section);
	close(mfd);
	if (!s->bpf) {
		snprintf(err, len,
			 "object '%s': rte_bpf_elf_load refused section '%s': %s (the log above "
			 "says why)",
			 c->object, c->section, rte_strerror(rte_errno));
		return -1;
	}
	struct rte_bpf_jit jit = {0};
	if (!jit_ok)
		fprintf(stderr,
			"sluice-dp: warning: stage '%s': the program tests bits with a small "
			"constant (jset imm8), which DPDK's x86 JIT gets wrong; it runs in "
			"rte_bpf's interpreter (slower)\n",
			st->name);
	else if (rte_bpf_get_jit(s->bpf, &jit) == 0 && jit.func)
		s->jit = jit.func;
	else
		fprintf(stderr,
			"sluice-dp: warning: stage '%s': no eBPF JIT on this machine; "
			"the program runs in rte_bpf's interpreter (slower)\n",
			st->name);
	return 0;
fail:
	snprintf(err, len, "object '%s': %s", c->object, why);
	free(buf);
	if (mfd >= 0)
		close(mfd);
	return -1;
}

static void bpf_fini(struct sl_stage *st)
{
	struct bpf_state *s = st->state;
	if (s && s->bpf) {
		rte_bpf_destroy(s->bpf);
		s->bpf = NULL;
		s->jit = NULL;
	}
}

static void bpf_process(struct sl_stage *st, struct rte_mbuf **pkts, uint16_t n)
{
	const struct bpf_state *s = st->state;
	uint16_t next[SL_BURST_MAX];
	uint64_t rc[SL_BURST_MAX];

	if (likely(s->jit != NULL))
		for (uint16_t i = 0; i < n; i++)
			rc[i] = s->jit(pkts[i]);
	else
		rte_bpf_exec_burst(s->bpf, (void **)pkts, rc, n);
	for (uint16_t i = 0; i < n; i++)
		next[i] = rc[i] < s->n_out ? (uint16_t)rc[i] : SL_DROP(BPF_DROP_OUT_OF_RANGE);
	sl_forward_split(st, pkts, next, n);
}

static struct sl_stage_type bpf_stage = {
    .name = "bpf",
    .help = "run an eBPF program (ELF, rte_bpf JIT); its return value picks the output",
    .outputs = bpf_outputs,
    .n_outputs = RTE_DIM(bpf_outputs),
    .drops = bpf_drops,
    .n_drops = RTE_DIM(bpf_drops),
    .params = bpf_params,
    .n_params = RTE_DIM(bpf_params),
    .conf_size = sizeof(struct bpf_conf),
    .state_size = sizeof(struct bpf_state),
    .check = bpf_check,
    .conf_outputs = bpf_conf_outputs,
    .init = bpf_init,
    .fini = bpf_fini,
    .process = bpf_process,
};

SL_STAGE_REGISTER(bpf_stage)
