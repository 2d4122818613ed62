"""pty_session.py: drive the loom REPL through a pseudo-terminal for tests/lua/test_repl.lua.
Not a general expect tool: steps are argv words "send:TEXT", "expect:TEXT", "intr" (Ctrl-C),
"stop" (Ctrl-Z, then SIGCONT as a shell's fg would send); leading "arg:WORD" steps are
passed to the program as its arguments.

usage: /usr/bin/python3 pty_session.py LOOM_BIN STEP...
TEXT may use \\n, \\t and \\x04 escapes. Prints the whole transcript; exits 1 (after printing
"TIMEOUT waiting for ...") when an expected text does not appear within 10 seconds."""
import os
import pty
import select
import signal
import sys
import time


def main():
    binary, steps = sys.argv[1], sys.argv[2:]
    # leading "arg:WORD" steps are the program's arguments (e.g. lua5.4 -e CODE)
    argv = [binary]
    while steps and steps[0].startswith("arg:"):
        argv.append(steps.pop(0)[4:])
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(binary, argv)
    transcript = b""

    def read_for(seconds, until=None):
        nonlocal transcript
        end = time.time() + seconds
        while time.time() < end:
            if until is not None and until in transcript:
                return True
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    return until is None
                if not chunk:
                    return until is None
                transcript += chunk
        return until is None or until in transcript

    status = 0
    read_for(10, b"> ")
    for step in steps:
        kind, _, text = step.partition(":")
        data = text.encode().decode("unicode_escape").encode("latin-1")
        if kind == "send":
            os.write(fd, data)
            read_for(0.3)
        elif kind == "intr":
            read_for(0.5)
            os.write(fd, b"\x03")
            read_for(0.5)
        elif kind == "stop":
            read_for(0.5)
            os.write(fd, b"\x1a")
            read_for(0.5)
            os.kill(pid, signal.SIGCONT)
            read_for(0.5)
        elif kind == "expect":
            if not read_for(10, data):
                sys.stdout.write(transcript.decode("utf-8", "replace"))
                print("\nTIMEOUT waiting for %r" % text)
                os.kill(pid, 9)
                sys.exit(1)
    os.write(fd, b"\x04")
    deadline = time.time() + 10
    while True:
        read_for(0.1)
        done, wstatus = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(wstatus)
            break
        if time.time() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            status = -9
            break
    sys.stdout.write(transcript.decode("utf-8", "replace"))
    print("\nEXIT %d" % status)


main()
