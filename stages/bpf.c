/* bpf.c: the `bpf` stage runs the operator's own eBPF program (an ELF
 * object built with `clang -target bpf`) on each packet and sends the packet
 * to output out<V>, V being the program's return value; a value of `outputs`
 * or more is a counted drop (`out_of_range`). The stage reads the code out
 * of the object itself and checks it; rte_bpf_load verifies those very
 * instructions, and its JIT runs them.
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

#include "stages/ebpf_fix.h"
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

/* The code of section `name` of the eBPF ELF object in buf, copied out
 * (malloc'd, *n instructions); or NULL with err. The object must have
 * exactly one section of that name, executable code with no relocations
 * (there is nothing a program may call or map), and the code may store
 * only to its stack (r10 + off): rte_bpf's verifier lets a program write
 * most mbuf fields, which every later stage trusts. What is checked here is
 * what is loaded (rte_bpf_load on these very instructions), so no second
 * section, flags or a file changed meanwhile can slip other code in. */
static struct ebpf_insn *bpf_code(const uint8_t *buf, size_t size, const char *name, uint32_t *n,
				  char *err, size_t len)
{
	struct ebpf_insn *code = NULL;
	size_t shstrndx, found = 0, found_count = 0;
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
	Elf_Scn *scn = NULL, *prog = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *sn;
		if (!gelf_getshdr(scn, &sh) || !(sn = elf_strptr(e, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(sn, name)) {
			found_count++;
			prog = scn;
			found = elf_ndxscn(scn);
		}
	}
	if (found_count == 0) {
		snprintf(err, len, "no section '%s'", name);
		goto out;
	}
	if (found_count > 1) {
		snprintf(err, len, "%zu sections named '%s': which one would run is not clear",
			 found_count, name);
		goto out;
	}
	GElf_Shdr ph;
	if (!gelf_getshdr(prog, &ph) || ph.sh_type != SHT_PROGBITS ||
	    !(ph.sh_flags & SHF_EXECINSTR)) {
		snprintf(err, len, "section '%s' is not executable code", name);
		goto out;
	}
	for (scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_REL || sh.sh_type == SHT_RELA) &&
		    sh.sh_info == found) {
			snprintf(err, len,
				 "section '%s' has relocations (calls or maps), which the stage "
				 "does not provide",
				 name);
			goto out;
		}
	}
	Elf_Data *d = elf_getdata(prog, NULL);
	if (!d || !d->d_buf || d->d_size == 0 || d->d_size % sizeof(struct ebpf_insn) ||
	    d->d_size / sizeof(struct ebpf_insn) > SL_EBPF_INSNS_MAX) {
		snprintf(err, len, "section '%s' holds no eBPF code of 1 to %u instructions", name,
			 SL_EBPF_INSNS_MAX);
		goto out;
	}
	*n = (uint32_t)(d->d_size / sizeof(struct ebpf_insn));
	code = malloc(d->d_size);
	if (!code) {
		snprintf(err, len, "out of memory");
		goto out;
	}
	memcpy(code, d->d_buf, d->d_size);
	for (uint32_t i = 0; i < *n; i++) {
		uint8_t cls = BPF_CLASS(code[i].code);
		if ((cls == BPF_ST || cls == BPF_STX) && code[i].dst_reg != EBPF_REG_10) {
			snprintf(err, len,
				 "section '%s', instruction %u stores through r%u: a program may "
				 "write only its stack (r10)",
				 name, i, code[i].dst_reg);
			free(code);
			code = NULL;
			goto out;
		}
	}
out:
	if (e)
		elf_end(e);
	return code;
}

static int bpf_init(struct sl_stage *st, const struct sl_stage_env *env, char *err, size_t len)
{
	const struct bpf_conf *c = st->conf;
	struct bpf_state *s = st->state;
	size_t size = 0;
	uint32_t n = 0, n_fixed = 0;
	char why[256] = "";
	struct ebpf_insn *code = NULL, *fixed = NULL;

	/* The runtime made st->n_outputs from conf_outputs; never index past it. */
	s->n_out = (uint16_t)RTE_MIN(c->outputs, (uint64_t)st->n_outputs);
	int fd = env->open_file(env, c->object, false, err, len);
	if (fd < 0)
		return -1;
	uint8_t *buf = bpf_read_all(fd, &size, why, sizeof(why));
	if (!buf || !(code = bpf_code(buf, size, c->section, &n, why, sizeof(why))))
		goto fail;
	/* Indexed packet loads are guarded (see ebpf_fix.h). A jset the x86
	 * JIT gets wrong cannot be rewritten here (no register is known to be
	 * free in someone else's program): such a program is interpreted. */
	bool jit_ok = !sl_ebpf_has_small_jset(code, n);
	fixed = sl_ebpf_fix(code, n, 0, &n_fixed, why, sizeof(why));
	if (!fixed)
		goto fail;
	const struct rte_bpf_prm prm = {
	    .ins = fixed,
	    .nb_ins = n_fixed,
	    .prog_arg = {.type = RTE_BPF_ARG_PTR_MBUF,
			 .size = sizeof(struct rte_mbuf),
			 .buf_size = 0},
	};
	s->bpf = rte_bpf_load(&prm);
	if (!s->bpf) {
		snprintf(why, sizeof(why),
			 "rte_bpf refused section '%s': %s (its verifier's log above says why: "
			 "loops, unknown calls and wide loads are refused)",
			 c->section, rte_strerror(rte_errno));
		goto fail;
	}
	free(buf);
	free(code);
	free(fixed);
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
	free(code);
	free(fixed);
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
