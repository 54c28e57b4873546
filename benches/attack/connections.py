#!/usr/bin/env python3
"""Connection attacks against a tresor listener on this machine (loopback only).

  idle      open N idle TCP connections (no bytes sent), then measure how many
            the server has closed after each second, and whether a fresh
            client is still served meanwhile
  slowloris open N connections that send one header line every few seconds
            and never finish the request; same measurements

Bounded in count and time; stops by itself. Prints one summary line.
Usage: connections.py idle|slowloris URL [--count N] [--seconds S] [--sources K]
"""
import argparse, socket, time, urllib.request, urllib.parse, select, sys


def loopback_only(host):
    addr = socket.gethostbyname(host)
    if not addr.startswith("127."):
        sys.exit(f"refusing to attack {addr}: loopback addresses only")
    return addr


def open_connections(host, port, count, sources):
    conns = []
    failed = 0
    for i in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Spread over several loopback source addresses (127.0.0.2 ...),
        # as several clients would be.
        s.bind((f"127.0.0.{2 + i % sources}", 0))
        s.settimeout(2)
        try:
            s.connect((host, port))
            s.setblocking(False)
            conns.append(s)
        except OSError:
            failed += 1
            s.close()
    return conns, failed


def closed_by_server(s):
    try:
        poller = select.poll()
        poller.register(s, select.POLLIN | select.POLLHUP | select.POLLERR)
        if not poller.poll(0):
            return False
        s.recv(4096)
        return True  # EOF or any answer (a 408) ends the connection for us
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def fresh_request(url):
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return response.status, time.monotonic() - start
    except Exception as error:  # noqa: BLE001 - we report any failure
        return type(error).__name__, time.monotonic() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["idle", "slowloris"])
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=1100)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--sources", type=int, default=8)
    args = parser.parse_args()
    parsed = urllib.parse.urlparse(args.url)
    host = loopback_only(parsed.hostname)
    port = parsed.port or 80
    conns, failed = open_connections(host, port, min(args.count, 5000), max(1, min(args.sources, 200)))
    print(f"opened {len(conns)} connections ({failed} failed to connect)")
    open_set = {s: False for s in conns}  # value: request line sent
    first_all_closed = None
    fresh_ok = fresh_fail = 0
    start = time.monotonic()
    last_drip = start
    deadline = start + min(args.seconds, 300)
    while time.monotonic() < deadline:
        now = time.monotonic()
        if args.mode == "slowloris" and now - last_drip >= 2:
            last_drip = now
            for s, started in list(open_set.items()):
                try:
                    s.send(b"X-a: b\r\n" if started else b"GET / HTTP/1.1\r\nHost: x\r\n")
                    open_set[s] = True
                except OSError:
                    open_set.pop(s, None)
        for s in list(open_set):
            if closed_by_server(s):
                open_set.pop(s, None)
                s.close()
        status, took = fresh_request(args.url)
        if status == 200:
            fresh_ok += 1
        else:
            fresh_fail += 1
        elapsed = time.monotonic() - start
        print(f"t={elapsed:5.1f}s open={len(open_set):5d} fresh={status} ({took*1000:.0f} ms)", flush=True)
        if not open_set and first_all_closed is None:
            first_all_closed = elapsed
            break
        time.sleep(max(0.0, 1.0 - took))
    for s in open_set:
        s.close()
    closed = "all closed after %.1f s" % first_all_closed if first_all_closed is not None else f"{len(open_set)} still open after {args.seconds} s"
    print(f"SUMMARY {args.mode}: {len(conns)} connections, {closed}; fresh requests meanwhile: {fresh_ok} ok, {fresh_fail} failed")


if __name__ == "__main__":
    main()
