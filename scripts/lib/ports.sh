# scripts/lib/ports.sh -- sourced; free loopback ports for test servers.
# shellcheck shell=bash

# free_port: prints a TCP port on 127.0.0.1 that was free a moment ago (the
# kernel picks it; the caller binds it soon after).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}
