"""The fixed client of bench/instructions.sh: one keep-alive connection, WARMUP requests, then
COUNT more, each checked for a 2xx answer. Its own cost is not counted (only the server runs
under callgrind).

    python3 bench/instructions_client.py HOST:PORT PATH METHOD BODY TOKEN WARMUP COUNT
"""

import http.client
import sys


def main() -> None:
    address, path, method, body, token, warmup, count = sys.argv[1:8]
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"Host": address}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body:
        headers["Content-Type"] = "application/json"
    for _ in range(int(warmup) + int(count)):
        connection.request(method, path, body=body or None, headers=headers)
        answer = connection.getresponse()
        answer.read()
        if not 200 <= answer.status < 300:
            sys.exit(f"{method} {path}: HTTP {answer.status}")
    connection.close()


if __name__ == "__main__":
    main()
