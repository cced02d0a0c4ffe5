#!/usr/bin/env python3
# stdlib/embed.py — turns an SX source file into a C file defining
# `const char SYMBOL[]` and `const size_t LENSYMBOL`, so the prelude ships
# inside the binary. Usage: embed.py INPUT OUTPUT SYMBOL LENSYMBOL
import sys

src, out, sym, lensym = sys.argv[1:5]
data = open(src, 'rb').read()
with open(out, 'w') as f:
    f.write('/* generated from %s by stdlib/embed.py */\n#include <stddef.h>\n' % src.split('/')[-1])
    f.write('const char %s[] = {\n' % sym)
    for i in range(0, len(data), 16):
        f.write(''.join('%d,' % (b - 256 if b > 127 else b) for b in data[i:i + 16]) + '\n')
    f.write('0};\nconst size_t %s = %d;\n' % (lensym, len(data)))
