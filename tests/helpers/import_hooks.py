"""Python source run first in a fresh interpreter by the import-time tests: every socket connection and DNS
look-up fails and is recorded in ``report["net"]``, every botocore client created is recorded in
``report["clients"]``. The script defining it must have created ``report`` (a dict with those two lists)."""

NO_NETWORK_AND_CLIENTS_RECORDED = r"""
def no_net(*args, **kwargs):
    report["net"].append(repr(args)[:80])
    raise OSError("network disabled in this test")
socket.socket.connect = no_net
socket.getaddrinfo = no_net
socket.create_connection = no_net
import botocore.session
_create = botocore.session.Session.create_client
def watched_create(self, service, *a, **k):
    report["clients"].append(service)
    return _create(self, service, *a, **k)
botocore.session.Session.create_client = watched_create
"""
