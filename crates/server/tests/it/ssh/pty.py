# Drives an interactive `ssh -tt ...` (argv) on a real pseudo-terminal: reads the terminal's
# size in the workspace, resizes the local terminal (the kernel sends SIGWINCH to ssh), reads
# it again, then exits the shell with 3. Prints SIZE1=..., UID=... (the shell's `id -u`),
# SIZE2=... and exits with ssh's code.
import fcntl, os, pty, select, struct, sys, termios, time

def winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

pid, fd = pty.fork()
if pid == 0:
    winsize(0, 24, 80)
    os.execvp(sys.argv[1], sys.argv[1:])

buf = b""

def expect(pattern, timeout=60):
    global buf
    end = time.time() + timeout
    while pattern not in buf:
        ready, _, _ = select.select([fd], [], [], max(0, end - time.time()))
        if not ready:
            sys.exit("timed out waiting for %r; got %r" % (pattern, buf[-400:]))
        try:
            data = os.read(fd, 4096)
        except OSError:
            sys.exit("ssh ended waiting for %r; got %r" % (pattern, buf[-400:]))
        buf += data
    at = buf.index(pattern)
    before, buf = buf[:at], buf[at + len(pattern):]
    return before.decode(errors="replace")

def size(tag):
    os.write(fd, b"stty size; echo %s-$((6*7))\n" % tag)
    return expect(b"%s-42" % tag).split("\n")[-2].strip()

print("SIZE1=" + size(b"first"), flush=True)
os.write(fd, b"echo uid-$(id -u)-$((6*7))\n")
expect(b"uid-")  # the echoed command line
print("UID=" + expect(b"-42").strip().split("uid-")[-1], flush=True)
winsize(fd, 40, 120)
second = ""
for i in range(20):
    second = size(b"again%d" % i)
    if second == "40 120":
        break
    time.sleep(0.2)
print("SIZE2=" + second, flush=True)
os.write(fd, b"exit 3\n")
while True:
    try:
        if not os.read(fd, 4096):
            break
    except OSError:
        break
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
