/* acl_rules.h: the `acl` stage's rule-file parser. Turns the text of a rule
 * file into rules (5-tuple, priority, action), refusing the first invalid
 * line with `file:line: what is wrong`. No DPDK here: classification is
 * acl.c's job. */
#ifndef SL_ACL_RULES_H
#define SL_ACL_RULES_H

#include <stddef.h>
#include <stdint.h>

#define SL_ACL_RULES_CAP 16384 /* max_rules at most: see acl.c */
#define SL_ACL_FILE_MAX (32u << 20)   /* bytes of a rule file */
#define SL_ACL_LINE_MAX 1024	      /* bytes of one line */
#define SL_ACL_ACTION_DROP 0xffffu    /* action: drop the packet */
#define SL_ACL_PROTO_ANY (-1)	      /* proto: any */
#define SL_ACL_PROTO_ICMP_FAMILY (-2) /* `icmp`: 1 for IPv4, 58 for IPv6 */
#define SL_ACL_FAM_V4 1u
#define SL_ACL_FAM_V6 2u

struct sl_acl_rule {
	uint32_t prio;
	uint32_t line;
	uint8_t fam; /* SL_ACL_FAM_* bits: `*` for both addresses gives both */
	uint8_t src_len, dst_len;
	uint8_t src[16], dst[16]; /* network order; IPv4 in the first 4 bytes */
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	int16_t proto;	 /* 0..255, SL_ACL_PROTO_ANY or SL_ACL_PROTO_ICMP_FAMILY */
	uint16_t action; /* index into the port names, or SL_ACL_ACTION_DROP */
};

/* Parse len bytes of rule text (name: the file, for messages). ports are
 * the output port names a rule may name as its action. Returns the number
 * of rules (at least 1) with *out malloc'd, or -1 with err filled. */
int sl_acl_rules_parse(const char *text, size_t len, const char *name, char *const *ports,
		       unsigned n_ports, unsigned max_rules, struct sl_acl_rule **out, char *err,
		       size_t errlen);

#endif
