/* af_xdp.c: the `af_xdp` port driver: packet I/O on a kernel interface
 * through AF_XDP sockets (libxdp's xsk API), for NICs DPDK cannot take. One
 * XSK per queue; the port's sockets share one UMEM laid over the mbuf pool
 * itself, so a received frame is an rte_mbuf whose data the kernel wrote in
 * place, and an mbuf of that pool is sent without a copy. The XDP program
 * (xsk_prog.bpf.c, embedded) is attached through libxdp's dispatcher and
 * detached on close; a copy a crashed dataplane left behind is replaced.
 *
 * Frame layout. The UMEM runs in unaligned-chunk mode over the pool's one
 * memory area, and a frame is a whole pool object:
 *   [mempool header][struct rte_mbuf][priv][RTE headroom | XDP headroom | data ...]
 * The fill ring gets the object's start; the kernel writes the frame past
 * frame_headroom (header + mbuf + priv + RTE headroom) plus its own
 * XDP_PACKET_HEADROOM, and the RX descriptor carries that offset, which
 * becomes the mbuf's data_off. TX descriptors carry the object's start and
 * the data's offset in the upper bits, so a completion names the mbuf. */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <linux/magic.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include <rte_branch_prediction.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>

#include "drivers/port.h"
#include "drivers/xsk_prog.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

#define XQ_MIN_CHUNK 2048u /* the kernel's XDP_UMEM_MIN_CHUNK_SIZE */
#define XQ_REFILL_MIN 32u  /* refill the fill ring in bursts at least this big */
#define XQ_REFILL_MAX 128u /* ...and at most this big per poll */
#define XQ_KICK_TRIES 8	   /* sendto() calls per TX burst when the kernel says "more" */
#define XQ_BURST_MAX 512u  /* bigger bursts are split (stack arrays) */

/* Written by the lcore that polls the queue; read by the stats thread. */
struct xq_rx_cnt {
	uint64_t pkts, bytes, nombuf, wakeups;
} __rte_cache_aligned;
struct xq_tx_cnt {
	uint64_t pkts, bytes, errors, wakeups, retries, copies;
} __rte_cache_aligned;

/* One XSK: its RX side is used by one port_rx instance, its TX side by one
 * port_tx instance, possibly on another lcore, so each side keeps to its
 * own rings and counters. */
struct xq {
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	uint32_t lent;	   /* frames given to the fill ring, not yet received */
	uint32_t fill_cap; /* at most this many lent at once */
	struct xq_rx_cnt rc;
	struct xsk_ring_prod tx;
	struct xsk_ring_cons comp;
	uint32_t tx_out; /* frames in the TX ring or awaiting completion */
	struct xq_tx_cnt tc;
	struct xsk_socket *xsk;
	int fd;
	bool has_rx, has_tx;
};

struct xport {
	struct rte_mempool *mp;
	char *base; /* the UMEM area: the pool's memory, page-aligned */
	size_t size;
	uint32_t hdr;	 /* mempool object header before each mbuf */
	uint32_t mb_hdr; /* hdr + mbuf + priv: where the buffer starts */
	uint32_t room;	 /* bytes of data a frame holds after the RTE headroom */
	int ifindex;
	bool busy_poll;
	bool zc;
	enum xdp_attach_mode mode;
	struct xdp_program *prog;
	int xsks_map_fd;
	struct xsk_umem *umem;
	struct xsk_ring_prod fill0; /* the UMEM's own rings: queue 0 takes them */
	struct xsk_ring_cons comp0;
	uint16_t nq;
	struct xq q[];
};

static int quiet_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBXDP_DEBUG)
		return 0;
	fprintf(stderr, "sluice-dp: ");
	return vfprintf(stderr, fmt, ap);
}

/* libbpf's warnings come from libxdp's probes (its dispatcher check fails
 * where the kernel refuses freplace programs, and says so itself) and from
 * the ELF sections libxdp reads; what matters reaches the port's note. */
static int quiet_bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static void note_add(struct sl_port *p, const char *fmt, ...)
{
	size_t used = strlen(p->note);
	if (used + 1 >= sizeof(p->note))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->note + used, sizeof(p->note) - used, fmt, ap);
	va_end(ap);
}

static const char *mode_name(enum xdp_attach_mode m)
{
	return m == XDP_MODE_NATIVE ? "native" : m == XDP_MODE_SKB ? "skb" : "?";
}

/* Queues the interface has (its RX queue count, from sysfs), or -1. */
static int iface_rx_queues(const char *iface)
{
	char path[96];
	int n = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-0", iface);
	while (n < 4096) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%d", iface, n);
		if (access(path, F_OK) != 0)
			break;
		n++;
	}
	return n ? n : -1;
}

/* ---- the XDP program ----------------------------------------------------- */

/* The pid in a running sl_xsk program's sl_owner map, or 0. */
static uint32_t prog_owner(int prog_fd)
{
	struct bpf_prog_info info;
	uint32_t ids[16], len = sizeof(info), pid = 0;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = RTE_DIM(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
		return 0;
	for (uint32_t i = 0; i < info.nr_map_ids && i < RTE_DIM(ids); i++) {
		int fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		struct bpf_map_info mi;
		uint32_t ml = sizeof(mi), key = 0;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &ml) == 0 && !strcmp(mi.name, "sl_owner") &&
		    mi.value_size == sizeof(pid))
			bpf_map_lookup_elem(fd, &key, &pid);
		close(fd);
	}
	return pid;
}

/* The refusal for an interface that a live sluice-dp holds: this very
 * process (a graph load that changes how an open port binds; the old port
 * stays open until the new graph runs, so both cannot hold it), or another. */
static void owner_busy(struct sl_port *p, uint32_t pid, char *err, size_t len)
{
	if (pid == (uint32_t)getpid())
		snprintf(err, len,
			 "port '%s': interface %s is open in this dataplane with other settings; a "
			 "graph load cannot change an af_xdp port's queue, mode, zerocopy or "
			 "busy_poll (drop the port in one load and add it in the next, or restart "
			 "the dataplane)",
			 p->conf.name, p->conf.iface);
	else
		snprintf(err, len, "port '%s': interface %s is served by sluice-dp pid %u",
			 p->conf.name, p->conf.iface, pid);
}

/* Is pid a live sluice-dp (not just any process that reused the number)? */
static bool owner_alive(uint32_t pid)
{
	char path[64], comm[32] = "";
	if (pid == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(comm, sizeof(comm), f) != NULL;
	fclose(f);
	/* EAL names the main thread after the program; worker threads
	 * have other names but share the pid of the main one. */
	return ok && strncmp(comm, "sluice-dp", 9) == 0;
}

/* Find sl_xsk programs on the interface. One whose owner died (kill -9,
 * crash) is detached; one whose owner lives is a conflict. */
static int clear_stale(struct sl_port *p, int ifindex, char *err, size_t len)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!mp || libxdp_get_error(mp))
		return 0; /* nothing attached */
	int rc = 0;
	enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
	struct xdp_program *stale[8];
	unsigned n_stale = 0;
	if (xdp_multiprog__is_legacy(mp)) {
		struct xdp_program *m = xdp_multiprog__main_prog(mp);
		if (m && !strcmp(xdp_program__name(m), "sl_xsk")) {
			uint32_t pid = prog_owner(xdp_program__fd(m));
			if (owner_alive(pid)) {
				owner_busy(p, pid, err, len);
				rc = -1;
			} else {
				fprintf(stderr,
					"sluice-dp: port '%s': removing the XDP program a stopped "
					"sluice-dp (pid %u) left on %s\n",
					p->conf.name, pid, p->conf.iface);
				rc = xdp_multiprog__detach(mp) == 0 ? 0 : -1;
				if (rc)
					snprintf(
					    err, len,
					    "port '%s': cannot remove the stale XDP program on %s",
					    p->conf.name, p->conf.iface);
			}
		}
		xdp_multiprog__close(mp);
		return rc;
	}
	for (struct xdp_program *q = xdp_multiprog__next_prog(NULL, mp); q;
	     q = xdp_multiprog__next_prog(q, mp)) {
		if (strcmp(xdp_program__name(q), "sl_xsk") != 0)
			continue;
		uint32_t pid = prog_owner(xdp_program__fd(q));
		if (owner_alive(pid)) {
			owner_busy(p, pid, err, len);
			xdp_multiprog__close(mp);
			return -1;
		}
		if (n_stale < RTE_DIM(stale))
			stale[n_stale++] = q;
	}
	for (unsigned i = 0; i < n_stale; i++) {
		fprintf(stderr,
			"sluice-dp: port '%s': removing the XDP program a stopped sluice-dp left "
			"on %s\n",
			p->conf.name, p->conf.iface);
		int e = xdp_program__detach(stale[i], ifindex, mode, 0);
		if (e) {
			char b[128];
			libxdp_strerror(e, b, sizeof(b));
			snprintf(err, len,
				 "port '%s': cannot remove the stale XDP program on %s: %s",
				 p->conf.name, p->conf.iface, b);
			rc = -1;
			break;
		}
	}
	xdp_multiprog__close(mp);
	return rc;
}

static struct xdp_program *prog_open(char *err, size_t len, const char *port)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "sl_xsk");
	struct bpf_object *obj = bpf_object__open_mem(sl_xsk_prog_obj, sl_xsk_prog_obj_len, &oo);
	if (!obj || libbpf_get_error(obj)) {
		snprintf(err, len, "port '%s': cannot open the built-in XDP program", port);
		return NULL;
	}
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .obj = obj, .prog_name = "sl_xsk");
	struct xdp_program *prog = xdp_program__create(&xo);
	if (!prog || libxdp_get_error(prog)) {
		bpf_object__close(obj);
		snprintf(err, len, "port '%s': cannot load the built-in XDP program", port);
		return NULL;
	}
	return prog;
}

/* Close a program prog_open made: libxdp leaves an object it was handed
 * (xdp_program_opts.obj) to its owner. */
static void prog_free(struct xdp_program *prog)
{
	struct bpf_object *obj = xdp_program__bpf_obj(prog);
	xdp_program__close(prog);
	bpf_object__close(obj);
}

/* Attach the program in the configured mode, native then skb for auto,
 * logging each fallback in the port's note. */
static int prog_attach(struct sl_port *p, struct xport *X, char *err, size_t len)
{
	enum xdp_attach_mode try[2];
	unsigned n = 0;
	if (p->conf.xdp_mode != SL_XDP_MODE_SKB)
		try[n++] = XDP_MODE_NATIVE;
	if (p->conf.xdp_mode != SL_XDP_MODE_NATIVE)
		try[n++] = XDP_MODE_SKB;
	char why[160] = "";
	for (unsigned i = 0; i < n; i++) {
		struct xdp_program *prog = prog_open(err, len, p->conf.name);
		if (!prog)
			return -1;
		int e = xdp_program__attach(prog, X->ifindex, try[i], 0);
		if (e == 0) {
			X->prog = prog;
			X->mode = try[i];
			return 0;
		}
		libxdp_strerror(e, why, sizeof(why));
		prog_free(prog);
		if (i + 1 < n) {
			fprintf(stderr,
				"sluice-dp: port '%s': XDP native mode refused on %s (%s): trying "
				"skb mode\n",
				p->conf.name, p->conf.iface, why);
			note_add(p, "native mode refused (%s)", why);
		}
	}
	snprintf(err, len, "port '%s': cannot attach the XDP program to %s in %s mode: %s",
		 p->conf.name, p->conf.iface, mode_name(try[n - 1]), why);
	return -1;
}

/* Whether libxdp could use its dispatcher (other XDP programs then run
 * beside ours) or fell back to attaching ours alone, and why. */
static void note_dispatcher(struct sl_port *p, struct xport *X, char *out, size_t len)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(X->ifindex);
	bool ok = mp && !libxdp_get_error(mp);
	bool legacy = !ok || xdp_multiprog__is_legacy(mp);
	if (ok)
		xdp_multiprog__close(mp);
	struct statfs sf;
	bool bpffs = statfs("/sys/fs/bpf", &sf) == 0 && sf.f_type == BPF_FS_MAGIC;
	if (!legacy)
		snprintf(out, len, "in libxdp's dispatcher");
	else if (!bpffs)
		snprintf(out, len, "no dispatcher: bpffs not mounted");
	else
		snprintf(out, len, "no dispatcher: the kernel refuses freplace programs");
	if (legacy)
		fprintf(stderr,
			"sluice-dp: port '%s': warning: XDP program attached alone (%s); "
			"another XDP program on %s would replace it\n",
			p->conf.name, out, p->conf.iface);
}

static void prog_detach(struct xport *X)
{
	if (!X->prog)
		return;
	xdp_program__detach(X->prog, X->ifindex, X->mode, 0);
	prog_free(X->prog);
	X->prog = NULL;
}

/* ---- the UMEM over the mbuf pool ----------------------------------------- */

static int umem_layout(struct sl_port *p, struct xport *X, struct rte_mempool *mp, char *err,
		       size_t len)
{
	/* The pool's chunks (one per IOVA-contiguous piece: each hugepage,
	 * when EAL runs in PA mode) lie one after the other in the memzone
	 * it was given; the UMEM spans them all. A pool scattered over the
	 * address space cannot be one UMEM. */
	long pg = sysconf(_SC_PAGESIZE);
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	size_t sum = 0;
	struct rte_mempool_memhdr *mh;
	STAILQ_FOREACH(mh, &mp->mem_list, next)
	{
		lo = RTE_MIN(lo, (uintptr_t)mh->addr);
		hi = RTE_MAX(hi, (uintptr_t)mh->addr + mh->len);
		sum += mh->len;
	}
	uintptr_t a = lo & ~((uintptr_t)pg - 1);
	uintptr_t e = (hi + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
	if (lo >= hi || e - a > sum + (size_t)mp->nb_mem_chunks * (size_t)pg * 2) {
		snprintf(err, len,
			 "port '%s': the mbuf pool's %u memory chunks are not one contiguous "
			 "area, which an AF_XDP UMEM must be",
			 p->conf.name, mp->nb_mem_chunks);
		return -1;
	}
	X->mp = mp;
	X->base = (char *)a;
	X->size = e - a;
	X->hdr = mp->header_size;
	X->mb_hdr = X->hdr + (uint32_t)sizeof(struct rte_mbuf) + rte_pktmbuf_priv_size(mp);
	uint32_t buf = rte_pktmbuf_data_room_size(mp);
	/* A chunk ends where the mbuf's buffer does: the kernel never writes
	 * past the object, however long the frame. */
	uint32_t chunk = X->mb_hdr + buf;
	if (chunk < XQ_MIN_CHUNK || chunk > (uint32_t)pg ||
	    buf <= RTE_PKTMBUF_HEADROOM + XDP_PACKET_HEADROOM) {
		snprintf(err, len,
			 "port '%s': mbufs of %u data bytes make %u-byte frames; AF_XDP needs "
			 "%u to %ld",
			 p->conf.name, buf, chunk, XQ_MIN_CHUNK, pg);
		return -1;
	}
	X->room = buf - RTE_PKTMBUF_HEADROOM - XDP_PACKET_HEADROOM;
	return 0;
}

static inline struct rte_mbuf *addr_mbuf(const struct xport *X, uint64_t addr)
{
	return (struct rte_mbuf *)(X->base + xsk_umem__extract_addr(addr) + X->hdr);
}

static inline uint64_t mbuf_addr(const struct xport *X, const struct rte_mbuf *m)
{
	return (uint64_t)((const char *)m - X->hdr - X->base);
}

/* ---- queues ---------------------------------------------------------------- */

/* Give the kernel fresh frames, in bursts, keeping at most fill_cap lent. */
static void refill(struct xport *X, struct xq *x, uint32_t max)
{
	struct rte_mbuf *m[XQ_REFILL_MAX];
	uint32_t want = RTE_MIN(x->fill_cap - x->lent, RTE_MIN(max, XQ_REFILL_MAX));
	uint32_t idx;
	if (want == 0)
		return;
	if (unlikely(rte_pktmbuf_alloc_bulk(X->mp, m, want) != 0)) {
		x->rc.nombuf += want;
		return;
	}
	if (unlikely(xsk_ring_prod__reserve(&x->fill, want, &idx) != want)) {
		rte_pktmbuf_free_bulk(m, want);
		return;
	}
	for (uint32_t i = 0; i < want; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = mbuf_addr(X, m[i]);
	xsk_ring_prod__submit(&x->fill, want);
	x->lent += want;
}

/* Free what the kernel finished sending. */
static void reclaim(struct xport *X, struct xq *x)
{
	struct rte_mbuf *m[64];
	uint32_t idx, n;
	while ((n = xsk_ring_cons__peek(&x->comp, RTE_DIM(m), &idx)) > 0) {
		for (uint32_t i = 0; i < n; i++)
			m[i] = addr_mbuf(X, *xsk_ring_cons__comp_addr(&x->comp, idx + i));
		xsk_ring_cons__release(&x->comp, n);
		x->tx_out -= n;
		rte_pktmbuf_free_bulk(m, n);
	}
}

static uint16_t xdp_rx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	struct xport *X = p->priv;
	struct xq *x = &X->q[q];
	uint32_t idx, bytes = 0;
	uint32_t got = xsk_ring_cons__peek(&x->rx, n, &idx);

	if (got == 0) {
		/* The kernel asks for a kick when it stopped for lack of
		 * frames; busy polling drives the NAPI loop from here. */
		/* Idle: top the fill ring up to the last frame, so that a
		 * drained port holds exactly what it held at start. */
		if (x->lent < x->fill_cap)
			refill(X, x, XQ_REFILL_MAX);
		if (X->busy_poll || xsk_ring_prod__needs_wakeup(&x->fill)) {
			recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
			x->rc.wakeups++;
		}
		return 0;
	}
	for (uint32_t i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		pkts[i] = addr_mbuf(X, d->addr);
		rte_prefetch0(pkts[i]);
	}
	for (uint32_t i = 0; i < got; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
		struct rte_mbuf *m = pkts[i];
		m->data_off = (uint16_t)(xsk_umem__extract_offset(d->addr) - X->mb_hdr);
		m->data_len = (uint16_t)d->len;
		m->pkt_len = d->len;
		bytes += d->len;
	}
	xsk_ring_cons__release(&x->rx, got);
	x->lent -= got;
	x->rc.pkts += got;
	x->rc.bytes += bytes;
	if (x->fill_cap - x->lent >= XQ_REFILL_MIN)
		refill(X, x, XQ_REFILL_MAX);
	return (uint16_t)got;
}

/* Ask the kernel to send what the TX ring holds. In copy mode it sends a
 * batch per call and says EAGAIN while more remain. */
static void kick(struct xq *x)
{
	for (int t = 0; t < XQ_KICK_TRIES; t++) {
		x->tc.wakeups++;
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return;
		if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != EINTR)
			return;
		x->tc.retries++;
	}
}

static uint16_t xdp_tx_some(struct sl_port *p, struct xq *x, struct rte_mbuf **pkts, uint16_t n)
{
	struct xport *X = p->priv;
	struct rte_mbuf *done[XQ_BURST_MAX];
	uint32_t idx = 0, nd = 0, j = 0, bytes = 0;

	reclaim(X, x);
	uint32_t k = RTE_MIN((uint32_t)n, xsk_prod_nb_free(&x->tx, n));
	if (k == 0) {
		x->tc.retries++;
		kick(x);
		reclaim(X, x);
		return 0;
	}
	xsk_ring_prod__reserve(&x->tx, k, &idx);
	for (uint32_t i = 0; i < k; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t len = rte_pktmbuf_pkt_len(m);
		if (likely(m->pool == X->mp && RTE_MBUF_DIRECT(m) && m->nb_segs == 1 &&
			   rte_mbuf_refcnt_read(m) == 1)) {
			/* Zero copy: the frame is the mbuf's own buffer. */
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + j++);
			d->addr = mbuf_addr(X, m) | ((uint64_t)(X->mb_hdr + m->data_off)
						     << XSK_UNALIGNED_BUF_OFFSET_SHIFT);
			d->len = len;
			bytes += len;
			continue;
		}
		/* Another pool, a clone, a chain: copied into a frame of ours. */
		struct rte_mbuf *c = len <= X->room ? rte_pktmbuf_alloc(X->mp) : NULL;
		if (unlikely(!c)) {
			x->tc.errors++;
			done[nd++] = m;
			continue;
		}
		char *dst = rte_pktmbuf_mtod(c, char *);
		const void *src = rte_pktmbuf_read(m, 0, len, dst);
		if (src != dst)
			rte_memcpy(dst, src, len);
		c->data_len = (uint16_t)len;
		c->pkt_len = len;
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx + j++);
		d->addr = mbuf_addr(X, c) |
			  ((uint64_t)(X->mb_hdr + c->data_off) << XSK_UNALIGNED_BUF_OFFSET_SHIFT);
		d->len = len;
		bytes += len;
		x->tc.copies++;
		done[nd++] = m;
	}
	x->tx.cached_prod -= k - j; /* slots of dropped packets go back */
	xsk_ring_prod__submit(&x->tx, j);
	x->tx_out += j;
	x->tc.pkts += j;
	x->tc.bytes += bytes;
	if (nd)
		rte_pktmbuf_free_bulk(done, nd);
	if (xsk_ring_prod__needs_wakeup(&x->tx))
		kick(x);
	return (uint16_t)k;
}

static uint16_t xdp_tx(struct sl_port *p, uint16_t q, struct rte_mbuf **pkts, uint16_t n)
{
	struct xport *X = p->priv;
	struct xq *x = &X->q[q];
	uint16_t sent = 0;
	while (sent < n) {
		uint16_t c = (uint16_t)RTE_MIN((uint32_t)(n - sent), XQ_BURST_MAX);
		uint16_t k = xdp_tx_some(p, x, pkts + sent, c);
		sent += k;
		if (k < c)
			break;
	}
	return sent;
}

static void xdp_tx_idle(struct sl_port *p, uint16_t q)
{
	struct xport *X = p->priv;
	struct xq *x = &X->q[q];
	if (x->tx_out) {
		if (xsk_ring_prod__needs_wakeup(&x->tx))
			kick(x);
		reclaim(X, x);
	}
}

/* ---- open and close -------------------------------------------------------- */

/* Give back every frame the rings still hold (the program is detached
 * first, so the kernel adds none); what the kernel itself still holds
 * (a zero-copy NIC's descriptors) is reported. */
static void drain(struct xport *X, struct xq *x)
{
	uint32_t idx, n;
	struct rte_mbuf *m[64];
	if (x->has_rx) {
		while ((n = xsk_ring_cons__peek(&x->rx, RTE_DIM(m), &idx)) > 0) {
			for (uint32_t i = 0; i < n; i++)
				m[i] = addr_mbuf(X, xsk_ring_cons__rx_desc(&x->rx, idx + i)->addr);
			xsk_ring_cons__release(&x->rx, n);
			x->lent -= n;
			rte_pktmbuf_free_bulk(m, n);
		}
		/* Fill entries the kernel has not taken: [consumer, producer). */
		uint32_t c = __atomic_load_n(x->fill.consumer, __ATOMIC_ACQUIRE);
		uint32_t pr = *x->fill.producer;
		while (c != pr) {
			n = 0;
			while (c != pr && n < RTE_DIM(m))
				m[n++] = addr_mbuf(X, *xsk_ring_prod__fill_addr(&x->fill, c++));
			x->lent -= n;
			rte_pktmbuf_free_bulk(m, n);
		}
	}
	if (x->has_tx) {
		reclaim(X, x);
		uint32_t c = __atomic_load_n(x->tx.consumer, __ATOMIC_ACQUIRE);
		uint32_t pr = *x->tx.producer;
		while (c != pr) {
			n = 0;
			while (c != pr && n < RTE_DIM(m))
				m[n++] = addr_mbuf(X, xsk_ring_prod__tx_desc(&x->tx, c++)->addr);
			x->tx_out -= n;
			rte_pktmbuf_free_bulk(m, n);
		}
	}
	if (x->lent || x->tx_out)
		fprintf(stderr,
			"sluice-dp: af_xdp: %u RX and %u TX frames were still with the kernel "
			"at close\n",
			x->lent, x->tx_out);
}

static void xdp_close(struct sl_port *p)
{
	struct xport *X = p->priv;
	if (!X)
		return;
	prog_detach(X);
	for (uint16_t i = 0; i < X->nq; i++) {
		struct xq *x = &X->q[i];
		if (!x->xsk)
			continue;
		drain(X, x);
		xsk_socket__delete(x->xsk);
		x->xsk = NULL;
	}
	if (X->umem)
		xsk_umem__delete(X->umem);
	rte_free(X);
	p->priv = NULL;
	p->started = 0;
}

static int sock_open(struct sl_port *p, struct xport *X, uint16_t i, char *err, size_t len)
{
	struct xq *x = &X->q[i];
	uint32_t qid = p->conf.queue + i;
	struct xsk_socket_config sc = {
	    .rx_size = x->has_rx ? p->rx_desc : 0,
	    .tx_size = x->has_tx ? p->tx_desc : 0,
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	    .bind_flags = XDP_USE_NEED_WAKEUP,
	};
	if (p->conf.zerocopy == SL_XDP_ZC_ON)
		sc.bind_flags |= XDP_ZEROCOPY;
	else if (p->conf.zerocopy == SL_XDP_ZC_OFF)
		sc.bind_flags |= XDP_COPY;
	/* Neither flag: the kernel binds zero-copy where the driver can,
	 * copy elsewhere; XDP_OPTIONS tells which it did. */
	struct xsk_ring_prod *fill = i == 0 ? &X->fill0 : &x->fill;
	struct xsk_ring_cons *comp = i == 0 ? &X->comp0 : &x->comp;
	/* A socket closed on this queue a moment ago (a graph load that
	 * dropped the port, then one that adds it back) still holds it until
	 * the kernel's deferred release runs: EBUSY for a few milliseconds. */
	int e;
	for (int t = 0;; t++) {
		e = xsk_socket__create_shared(&x->xsk, p->conf.iface, qid, X->umem,
					      x->has_rx ? &x->rx : NULL, x->has_tx ? &x->tx : NULL,
					      fill, comp, &sc);
		if (e != -EBUSY || t == 50)
			break;
		usleep(10000);
	}
	if (e) {
		x->xsk = NULL;
		if (p->conf.zerocopy == SL_XDP_ZC_ON)
			snprintf(err, len,
				 "port '%s': zerocopy: on, but %s queue %u refuses a zero-copy "
				 "socket: %s",
				 p->conf.name, p->conf.iface, qid, strerror(-e));
		else
			snprintf(err, len,
				 "port '%s': cannot bind an AF_XDP socket to %s queue %u: %s",
				 p->conf.name, p->conf.iface, qid, strerror(-e));
		return -1;
	}
	if (i == 0) {
		x->fill = X->fill0;
		x->comp = X->comp0;
	}
	x->fd = xsk_socket__fd(x->xsk);
	struct xdp_options opt = {0};
	socklen_t ol = sizeof(opt);
	bool zc = getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &opt, &ol) == 0 &&
		  (opt.flags & XDP_OPTIONS_ZEROCOPY);
	if (i == 0)
		X->zc = zc;
	if (X->busy_poll) {
		int one = 1, us = 20, budget = 64;
		if (setsockopt(x->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one)) ||
		    setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof(us)) ||
		    setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget))) {
			snprintf(err, len, "port '%s': busy_poll: the kernel refuses it on %s: %s",
				 p->conf.name, p->conf.iface, strerror(errno));
			return -1;
		}
	}
	if (x->has_rx) {
		e = xsk_socket__update_xskmap(x->xsk, X->xsks_map_fd);
		if (e) {
			snprintf(err, len,
				 "port '%s': cannot enter queue %u's socket in the XDP map: %s",
				 p->conf.name, qid, strerror(-e));
			return -1;
		}
		x->fill_cap = p->rx_desc;
		refill(X, x, p->rx_desc);
		while (x->lent < x->fill_cap && x->rc.nombuf == 0)
			refill(X, x, x->fill_cap - x->lent);
		if (x->lent < x->fill_cap) {
			snprintf(err, len, "port '%s': no mbufs for the fill ring of queue %u",
				 p->conf.name, qid);
			return -1;
		}
	}
	return 0;
}

static int xdp_open(struct sl_port *p, struct rte_mempool *mp, char *err, size_t len)
{
	if (p->priv) /* a graph load changed its queues: start over */
		xdp_close(p);
	libxdp_set_print(quiet_print);
	libbpf_set_print(quiet_bpf_print);
	p->note[0] = '\0';
	const char *ifc = p->conf.iface;
	if (!ifc || !*ifc) {
		snprintf(err, len, "port '%s': af_xdp needs 'iface'", p->conf.name);
		return -1;
	}
	int ifindex = (int)if_nametoindex(ifc);
	if (ifindex == 0) {
		snprintf(err, len, "port '%s': no interface named '%s'", p->conf.name, ifc);
		return -1;
	}
	uint16_t nq = RTE_MAX(RTE_MAX(p->conf.n_rxq, p->conf.n_txq), (uint16_t)1);
	int have = iface_rx_queues(ifc);
	if (have > 0 && (int)p->conf.queue + nq > have) {
		snprintf(err, len,
			 "port '%s': needs queues %u to %u of %s, which has %d (raise its "
			 "channels, or use fewer port_rx / port_tx instances)",
			 p->conf.name, p->conf.queue, p->conf.queue + nq - 1, ifc, have);
		return -1;
	}
	p->rx_desc = p->conf.rx_desc;
	p->tx_desc = p->conf.tx_desc;
	if ((p->rx_desc & (p->rx_desc - 1)) || (p->tx_desc & (p->tx_desc - 1))) {
		snprintf(err, len, "port '%s': af_xdp ring sizes must be powers of two (%u, %u)",
			 p->conf.name, p->rx_desc, p->tx_desc);
		return -1;
	}
	struct xport *X =
	    rte_zmalloc("sl_xport", sizeof(*X) + nq * sizeof(struct xq), RTE_CACHE_LINE_SIZE);
	if (!X) {
		snprintf(err, len, "port '%s': out of memory", p->conf.name);
		return -1;
	}
	p->priv = X;
	X->ifindex = ifindex;
	X->nq = nq;
	X->busy_poll = p->conf.busy_poll;
	for (uint16_t i = 0; i < nq; i++) {
		X->q[i].has_rx = i < p->conf.n_rxq;
		X->q[i].has_tx = i < p->conf.n_txq;
		if (!X->q[i].has_rx && !X->q[i].has_tx)
			X->q[i].has_tx = true; /* a port named by no stage still binds */
	}
	if (umem_layout(p, X, mp, err, len) < 0 || clear_stale(p, ifindex, err, len) < 0 ||
	    prog_attach(p, X, err, len) < 0)
		goto fail;
	struct bpf_object *obj = xdp_program__bpf_obj(X->prog);
	X->xsks_map_fd = obj ? bpf_object__find_map_fd_by_name(obj, "sl_xsks") : -1;
	int owner_fd = obj ? bpf_object__find_map_fd_by_name(obj, "sl_owner") : -1;
	uint32_t key = 0, pid = (uint32_t)getpid();
	/* The program's code never reads sl_owner: bind the map to it, or
	 * the map would die with this process and a successor could not
	 * tell whose program it finds. */
	if (X->xsks_map_fd < 0 || owner_fd < 0 ||
	    bpf_map_update_elem(owner_fd, &key, &pid, BPF_ANY) != 0 ||
	    bpf_prog_bind_map(xdp_program__fd(X->prog), owner_fd, NULL) != 0) {
		snprintf(err, len, "port '%s': the XDP program's maps are missing", p->conf.name);
		goto fail;
	}
	struct xsk_umem_config uc = {
	    .fill_size = p->rx_desc,
	    .comp_size = p->tx_desc,
	    .frame_size = X->mb_hdr + rte_pktmbuf_data_room_size(mp),
	    .frame_headroom = X->mb_hdr + RTE_PKTMBUF_HEADROOM,
	    .flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG,
	};
	int e = xsk_umem__create(&X->umem, X->base, X->size, &X->fill0, &X->comp0, &uc);
	if (e) {
		X->umem = NULL;
		snprintf(err, len, "port '%s': cannot register the mbuf pool as a UMEM: %s",
			 p->conf.name, strerror(-e));
		goto fail;
	}
	for (uint16_t i = 0; i < nq; i++)
		if (sock_open(p, X, i, err, len) < 0)
			goto fail;
	p->n_rxq = p->conf.n_rxq ? p->conf.n_rxq : 1;
	p->n_txq = p->conf.n_txq ? p->conf.n_txq : 1;
	p->port_id = RTE_MBUF_PORT_INVALID;
	p->rx_timestamps = false;
	p->rx_ts_mult = 0;
	if (p->conf.rx_timestamps)
		fprintf(stderr,
			"sluice-dp: warning: port '%s' (af_xdp) gives no receive timestamps: "
			"stages on capture time count its packets as having none\n",
			p->conf.name);
	char fallback[SL_PORT_NOTE_MAX], qs[32], disp[128];
	note_dispatcher(p, X, disp, sizeof(disp));
	snprintf(fallback, sizeof(fallback), "%s", p->note); /* logged by prog_attach */
	if (nq > 1)
		snprintf(qs, sizeof(qs), "queues %u-%u", p->conf.queue, p->conf.queue + nq - 1);
	else
		snprintf(qs, sizeof(qs), "queue %u", p->conf.queue);
	snprintf(p->note, sizeof(p->note),
		 "af_xdp %s, %s; %u XSK%s on %s %s; UMEM on the mbuf pool%s", mode_name(X->mode),
		 X->zc ? "zero-copy" : "copy", nq, nq > 1 ? "s" : "", ifc, qs,
		 rte_eal_has_hugepages() ? " (hugepages)" : " (no hugepages)");
	if (X->busy_poll)
		note_add(p, "; busy poll");
	if (fallback[0])
		note_add(p, "; %s", fallback);
	note_add(p, "; %s", disp);
	if (!X->zc && p->conf.zerocopy == SL_XDP_ZC_AUTO)
		note_add(p, "; zero-copy not offered by %s's driver", ifc);
	if (p->conf.auto_why)
		note_add(p, "; auto: %s", p->conf.auto_why);
	fprintf(stderr, "sluice-dp: port '%s': %s\n", p->conf.name, p->note);
	p->started = 1;
	return 0;
fail:
	xdp_close(p);
	return -1;
}

static int xdp_probe(struct sl_port *p, unsigned gen, char *err, size_t len)
{
	(void)gen;
	if (!p->conf.iface || if_nametoindex(p->conf.iface) == 0) {
		snprintf(err, len, "port '%s': no interface named '%s'", p->conf.name,
			 p->conf.iface ? p->conf.iface : "");
		return -1;
	}
	return 0;
}

static int xdp_stats(struct sl_port *p, struct sl_port_stats *out)
{
	struct xport *X = p->priv;
	if (!X)
		return -1;
	memset(out, 0, sizeof(*out));
	for (uint16_t i = 0; i < X->nq; i++) {
		const struct xq *x = &X->q[i];
		out->ipackets += __atomic_load_n(&x->rc.pkts, __ATOMIC_RELAXED);
		out->ibytes += __atomic_load_n(&x->rc.bytes, __ATOMIC_RELAXED);
		out->rx_nombuf += __atomic_load_n(&x->rc.nombuf, __ATOMIC_RELAXED);
		out->wakeups += __atomic_load_n(&x->rc.wakeups, __ATOMIC_RELAXED);
		out->opackets += __atomic_load_n(&x->tc.pkts, __ATOMIC_RELAXED);
		out->obytes += __atomic_load_n(&x->tc.bytes, __ATOMIC_RELAXED);
		out->oerrors += __atomic_load_n(&x->tc.errors, __ATOMIC_RELAXED);
		out->wakeups += __atomic_load_n(&x->tc.wakeups, __ATOMIC_RELAXED);
		out->tx_retries += __atomic_load_n(&x->tc.retries, __ATOMIC_RELAXED);
		out->tx_copies += __atomic_load_n(&x->tc.copies, __ATOMIC_RELAXED);
		struct xdp_statistics xs;
		socklen_t l = sizeof(xs);
		memset(&xs, 0, sizeof(xs));
		if (x->xsk && getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &xs, &l) == 0) {
			out->rx_dropped += xs.rx_dropped;
			out->rx_invalid_descs += xs.rx_invalid_descs;
			out->tx_invalid_descs += xs.tx_invalid_descs;
			out->rx_ring_full += xs.rx_ring_full;
			out->fill_ring_empty += xs.rx_fill_ring_empty_descs;
		}
	}
	/* What the port lost on receive, as an ethdev would say it. */
	out->imissed = out->rx_dropped + out->rx_ring_full;
	out->ierrors = out->rx_invalid_descs;
	out->oerrors += out->tx_invalid_descs;
	return 0;
}

static int xdp_socket(struct sl_port *p)
{
	char path[96];
	int node = -1;
	snprintf(path, sizeof(path), "/sys/class/net/%s/device/numa_node", p->conf.iface);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%d", &node) != 1)
			node = -1;
		fclose(f);
	}
	return node;
}

static int xdp_link_up(struct sl_port *p)
{
	char path[96], state[16] = "";
	snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", p->conf.iface);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	bool ok = fgets(state, sizeof(state), f) != NULL;
	fclose(f);
	return ok && (!strncmp(state, "up", 2) || !strncmp(state, "unknown", 7));
}

const struct sl_port_driver sl_af_xdp_driver = {
    .name = "af_xdp",
    .open = xdp_open,
    .close = xdp_close,
    .rx = xdp_rx,
    .tx = xdp_tx,
    .stats = xdp_stats,
    .socket = xdp_socket,
    .link_up = xdp_link_up,
    .probe = xdp_probe,
    .remove = xdp_close,
    .tx_idle = xdp_tx_idle,
};
