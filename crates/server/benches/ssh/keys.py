# Keystroke round trips through an interactive command (argv) on a real pseudo-terminal: the
# command is expected to run `cat` on a terminal, so each byte typed is echoed back by the
# remote terminal. Sends N bytes one at a time, each after the previous echo arrived, and
# prints the median and 90th percentile round trip in milliseconds.
import os, pty, select, sys, time, tty

n = int(os.environ.get("KEYS", "200"))
pid, fd = pty.fork()
if pid == 0:
    # Raw from the start: every echo measured is the remote terminal's, never this one's.
    tty.setraw(0)
    os.execvp(sys.argv[1], sys.argv[1:])

def read_until(byte, timeout=30):
    end = time.time() + timeout
    while True:
        ready, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not ready:
            sys.exit("no echo")
        if byte in os.read(fd, 4096):
            return

# Wait until the remote cat echoes.
for _ in range(100):
    os.write(fd, b"w")
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready and b"w" in os.read(fd, 4096):
        break
time.sleep(0.5)
while select.select([fd], [], [], 0.2)[0]:
    os.read(fd, 4096)
samples = []
for i in range(n):
    key = b"abcdefghij"[i % 10 : i % 10 + 1]
    start = time.perf_counter()
    os.write(fd, key)
    read_until(key)
    samples.append((time.perf_counter() - start) * 1000)
os.write(fd, b"\x03")
samples.sort()
print("%.3f %.3f" % (samples[len(samples) // 2], samples[int(len(samples) * 0.9)]))
try:
    os.kill(pid, 9)
except OSError:
    pass
