#!/usr/bin/env python3
"""Request flood against a tresor endpoint on this machine (loopback only):
N requests over C keep-alive connections, as fast as the server answers;
prints how many got each status and how long it took.

Usage: flood.py URL [--count N] [--connections C] [--header 'Name: value']...
                [--cacert FILE --cert FILE --key FILE]   (https, department certificate)
  e.g. flood.py http://127.0.0.1:8080/login --count 20000
"""
import argparse, collections, http.client, ssl, sys, threading, time, urllib.parse


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--cacert")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    url = urllib.parse.urlparse(args.url)
    if not (url.hostname or "").startswith("127.") and url.hostname != "localhost":
        sys.exit("loopback addresses only")
    count = min(args.count, 100_000)
    headers = dict(h.split(": ", 1) for h in args.header)
    statuses = collections.Counter()
    lock = threading.Lock()
    remaining = [count]

    def connect():
        if url.scheme == "https":
            context = ssl.create_default_context(cafile=args.cacert)
            if args.cert:
                context.load_cert_chain(args.cert, args.key)
            return http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=10, context=context)
        return http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)

    def worker():
        conn = connect()
        while True:
            with lock:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
            try:
                conn.request("GET", url.path + ("?" + url.query if url.query else ""), headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except Exception as error:  # noqa: BLE001 - counted, then reconnect
                status = type(error).__name__
                conn.close()
                conn = connect()
            with lock:
                statuses[status] += 1
        conn.close()

    start = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(max(1, min(args.connections, 64)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - start
    summary = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    print(f"SUMMARY {count} requests to {url.path} in {took:.1f} s: {summary}")


if __name__ == "__main__":
    main()
