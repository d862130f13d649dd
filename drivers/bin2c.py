#!/usr/bin/env python3
# bin2c.py: turn a built file (the XDP program's BPF object) into a C array,
# so that sluice-dp carries it and never loads code from a path at run time.
import sys

src, out, name = sys.argv[1:4]
data = open(src, 'rb').read()
with open(out, 'w') as f:
    f.write('/* Generated from %s by drivers/bin2c.py: do not edit. */\n' % src.split('/')[-1])
    f.write('#include <stddef.h>\n#include <stdint.h>\n')
    f.write('const uint8_t %s[] __attribute__((aligned(8))) = {\n' % name)
    for i in range(0, len(data), 16):
        f.write('  ' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',\n')
    f.write('};\nconst size_t %s_len = %d;\n' % (name, len(data)))
