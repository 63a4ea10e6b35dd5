#!/bin/bash
# scripts/malloc-info.sh PID OUT: glibc malloc_info and sqlite3_memory_used of a running herald (gdb; pauses it ~1 s).
# Prints what each arena took from the system, how much of it is free, and in use. Needs gdb.
P=$1; OUT=$2
timeout 120 gdb -p $P -batch -ex "set \$f = (void*)fopen(\"$OUT\",\"w\")" -ex 'call (int)malloc_info(0, $f)' -ex 'call (int)fclose($f)' -ex 'print (long)sqlite3_memory_used()' 2>&1 | grep '^\$3' | sed 's/\$3 = /sqlite3_memory_used /'
python3 - "$OUT" <<'PY'
import re, sys
x=open(sys.argv[1]).read()
tot_sys=tot_free=0
for nr, body in re.findall(r'<heap nr="(\d+)">(.*?)</heap>', x, re.S):
    d={f"{a}":int(c) for a,b,c in re.findall(r'<(total|system) type="(\w+)" (?:count="\d+" )?size="(\d+)"', body) if b in ("fast","rest","current")}
    free=sum(int(c) for a,b,c in re.findall(r'<total type="(fast|rest)" count="\d+" size="(\d+)"()', body) for c in [b])
    cur=int(re.search(r'<system type="current" size="(\d+)"', body).group(1))
    tot_sys+=cur; tot_free+=free
    if cur > 4<<20: print(f"  arena {nr}: {cur/2**20:.0f} MiB from the system, {free/2**20:.0f} MiB free, {(cur-free)/2**20:.0f} MiB in use")
mm=re.search(r'<total type="mmap" count="(\d+)" size="(\d+)"', x)
print(f"  all arenas: {tot_sys/2**20:.0f} MiB from the system, {tot_free/2**20:.0f} MiB free; mmapped chunks {int(mm.group(2))/2**20:.0f} MiB")
PY
