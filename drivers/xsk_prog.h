/* xsk_prog.h: the af_xdp driver's XDP program (xsk_prog.bpf.c), as the BPF
 * object clang built, embedded by bin2c.py. */
#ifndef SL_XSK_PROG_H
#define SL_XSK_PROG_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t sl_xsk_prog_obj[];
extern const size_t sl_xsk_prog_obj_len;

#endif
