#!/usr/bin/env python3
"""A stand-in for an existing bloc client (Python 3 stdlib only), used by skein's tests.

It does what bloc's BlocClient does (reference: bloc's client.py, summarised in docs/bloc.md):
every `interval` seconds, first call at once, GET http://<server>/index with the Bloc-Session-ID
header and a timeout of `interval`; a non-200 answer, a timeout or bad JSON means "not settled";
{"status": "SETTLED", "index": i, "total": n} means (i, n). On stop it sends DELETE /session with
a 1 s timeout and ignores the result.

For the test it stops by itself: once it has seen SETTLED with `expect_total` members, it keeps
heartbeating `extra_ticks` more times, sends the DELETE and prints {"final": [index, total]}
(the assignment it saw).
Every change of get_index_total() is printed as a JSON line. Exit 1 after `max_seconds`.

usage: bloc-client.py <host:port> <session-id> <interval-s> <expect-total> <extra-ticks> <max-seconds>
"""
import json
import sys
import time
import urllib.error
import urllib.request


def get_index(server, session_id, timeout):
    request = urllib.request.Request(
        'http://{}/index'.format(server), headers={'Bloc-Session-ID': session_id}, method='GET'
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status != 200:
                return None
            content = json.loads(response.read().decode('utf-8'))
    except (urllib.error.URLError, OSError, ValueError):
        return None  # bloc logs the error and counts itself as not settled
    if content.get('status') == 'SETTLED':
        return (content['index'], content['total'])
    return None


def delete_session(server, session_id):
    request = urllib.request.Request(
        'http://{}/session'.format(server), headers={'Bloc-Session-ID': session_id}, method='DELETE'
    )
    try:
        urllib.request.urlopen(request, timeout=1).close()
    except (urllib.error.URLError, OSError):
        pass  # bloc ignores the result of its DELETE


def main():
    server, session_id = sys.argv[1], sys.argv[2]
    interval, expect_total = float(sys.argv[3]), int(sys.argv[4])
    extra_ticks, max_seconds = int(sys.argv[5]), float(sys.argv[6])
    deadline = time.monotonic() + max_seconds
    index_total, last_printed, ticks_left, assigned = None, 'unset', None, None
    while time.monotonic() < deadline:
        index_total = get_index(server, session_id, interval)
        if index_total != last_printed:
            print(json.dumps({'index_total': index_total}), flush=True)
            last_printed = index_total
        if ticks_left is None and index_total is not None and index_total[1] == expect_total:
            ticks_left, assigned = extra_ticks, index_total
        if ticks_left is not None:
            if ticks_left == 0:
                delete_session(server, session_id)
                print(json.dumps({'final': assigned}), flush=True)
                return 0
            ticks_left -= 1
        time.sleep(interval)
    print(json.dumps({'timeout': index_total}), flush=True)
    return 1


if __name__ == '__main__':
    sys.exit(main())
