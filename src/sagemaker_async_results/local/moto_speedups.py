"""Make the embedded moto server's per-request costs constant: the same answers, computed once.

Profiled on the local run (py-spy and cProfile, 2 cores), these costs were paid on every request for
answers that never change:

- **Dispatch.** moto's server finds the service of each request by host name under one lock shared by
  every request thread: it lists moto's package folder (``os.listdir`` plus an ``isdir`` per service,
  about 180 stat calls) and then tries the URL pattern of every service. Both answers depend only on the
  host name, so they are remembered per host (about 8% of the emulator's CPU, and serialised requests).
- **SQS message clocks.** Every ``SendMessage`` reads the queue's attributes, which count visible,
  delayed and in-flight messages; each check of each message builds two ``datetime`` objects to read
  the clock (``unix_time_millis()``), so a send into a queue of 300 messages cost about 30 ms. The same
  milliseconds come from ``time.time()``.
- **DynamoDB update expressions.** moto tokenizes and parses the ``UpdateExpression`` of every
  ``UpdateItem`` (and of each ``Update`` in a transaction) twice, once to list the names and values it
  uses and once to apply it, although the runtime sends the same few expressions again and again. The
  tree of an expression depends only on its text and moto never changes it (its validator works on a
  deep copy), so it is parsed once per text, and that deep copy is made from the parsed tree's pickle
  (one C call instead of ``copy.deepcopy``'s walk in Python over a hundred-odd nodes). Then moto's validator walks that tree once per check (ten
  checks per ``UpdateItem``) and, at every node, rebuilds the check's table of node types and handlers;
  each check's table is fixed, so it is built once per check. Two of those checks (one ``SET``/``ADD``/
  ``REMOVE`` clause each, no overlapping paths) list the clauses under every sub-expression of the
  chain the parser builds, which made them quadratic in the number of actions; during those two checks,
  which do not change the tree, each node's list is computed once.
- **SNS signing certificates.** moto's SNS builds and signs a new X.509 certificate for every message it
  delivers to a queue (and keeps each one's public key for good). SNS signs its messages with a
  certificate it rotates rarely, so each subscription here gets one certificate, built on its first
  message; every message is still signed on its own, and the certificate is still served at its
  ``SigningCertURL`` for checking the signature.

Nothing here changes what moto answers; only the in-process server of a local run is patched.
"""

from __future__ import annotations

import copy
import functools
import pickle
import threading
import time
from typing import Any

__all__ = ["speed_up_embedded_moto"]

_PATCHED = threading.Lock()


def speed_up_embedded_moto() -> None:
    """Patch this process's moto (idempotent): see the module docstring."""
    with _PATCHED:
        _remember_backends_per_host()
        _fast_sqs_clock()
        _parse_update_expressions_once()
        _build_traversal_tables_once()
        _list_clauses_once_per_check()
        _one_signing_certificate_per_subscription()


def _remember_backends_per_host() -> None:
    from moto import backends
    from moto.moto_server import werkzeug_app

    dispatcher: Any = werkzeug_app.DomainDispatcherApplication
    if getattr(dispatcher, "_local_run_remembers_hosts", False):
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: iter(modules)
    find = dispatcher.get_backend_for_host
    found: dict[str, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        try:
            return found[host]
        except KeyError:
            backend = found[host] = find(self, host)
            return backend

    dispatcher.get_backend_for_host = get_backend_for_host
    dispatcher._local_run_remembers_hosts = True


def _fast_sqs_clock() -> None:
    from moto.sqs import models

    current: Any = models.unix_time_millis
    if getattr(current, "_local_run_fast", False):
        return

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(current(dt))

    unix_time_millis._local_run_fast = True  # type: ignore[attr-defined]
    models.unix_time_millis = unix_time_millis


#: Distinct update expressions kept parsed (the runtime sends a handful; a bound keeps a client that
#: builds a new text per request from growing the cache without end).
UPDATE_EXPRESSION_CACHE_SIZE = 512


def _parse_update_expressions_once() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    parser: Any = UpdateExpressionParser
    if getattr(parser, "_local_run_cached", False):
        return
    make = parser.make.__func__

    @functools.lru_cache(maxsize=UPDATE_EXPRESSION_CACHE_SIZE)
    def parsed(expression: str) -> Any:
        tree = make(parser, expression)
        # Set after pickling, so copies made from the pickle do not carry it.
        tree._local_run_pickled = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        return tree

    def cached_make(cls: Any, expression: str) -> Any:
        # An invalid expression raises from ``make`` every time: lru_cache keeps no exceptions.
        return parsed(expression) if cls is parser else make(cls, expression)

    parser.make = classmethod(cached_make)
    validators.deepcopy = _copy_of_parsed_tree  # type: ignore[assignment]
    parser._local_run_cached = True


def _copy_of_parsed_tree(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy`` for moto's validators: a parsed update expression is copied from its pickle."""
    pickled = getattr(value, "__dict__", {}).get("_local_run_pickled")
    if pickled is not None:
        return pickle.loads(pickled)  # noqa: S301 - pickled by this process from moto's own parse tree
    return copy.deepcopy(value, memo)


def _build_traversal_tables_once() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    traverser: Any = DepthFirstTraverser
    if getattr(traverser, "_local_run_tables", False):
        return

    def table(self: Any) -> tuple[dict[type, Any], tuple[type, ...]]:
        # Each check's ``_processing_map`` returns the same node types and bound methods on every call.
        found = self.__dict__.get("_local_run_table")
        if found is None:
            handlers = self._processing_map()
            found = self.__dict__["_local_run_table"] = (handlers, tuple(handlers))
        return found

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        return table(self)[1]

    def process(self: Any, node: Any) -> Any:
        for node_type, handler in table(self)[0].items():
            if isinstance(node, node_type):
                return handler(node)
        return None

    traverser.nodes_to_be_processed = nodes_to_be_processed
    traverser.process = process
    traverser._local_run_tables = True


_CLAUSES = threading.local()


def _list_clauses_once_per_check() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    node_type: Any = Node
    if getattr(node_type, "_local_run_memo", False):
        return
    find = node_type.find_clauses

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        memo: dict[tuple[int, tuple[type, ...]], tuple[Any, list[Any]]] | None = getattr(
            _CLAUSES, "memo", None
        )
        if memo is None:
            return find(self, clause_types)
        key = (id(self), tuple(clause_types))
        if key not in memo:
            memo[key] = (self, find(self, clause_types))  # the node kept so that its id is not reused
        return list(memo[key][1])

    def memoized(traverse: Any) -> Any:
        def call(self: Any, node: Any) -> Any:
            _CLAUSES.memo = {}
            try:
                return traverse(self, node)
            finally:
                _CLAUSES.memo = None

        return call

    node_type.find_clauses = find_clauses
    for name in ("ActionCountValidator", "OverlappingPathsValidator"):
        check: Any = getattr(validators, name)
        check.traverse = memoized(check.traverse)
    node_type._local_run_memo = True


def _one_signing_certificate_per_subscription() -> None:
    """moto's ``Subscription.get_post_data`` (moto 5.2), with the certificate built once per subscription."""
    import base64
    from datetime import timedelta

    import cryptography.x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.x509 import Name, NameAttribute
    from cryptography.x509.oid import NameOID
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.utils import iso_8601_datetime_with_milliseconds, utcnow
    from moto.moto_api._internal import mock_random
    from moto.sns import models

    subscription: Any = models.Subscription
    if getattr(subscription, "_local_run_one_certificate", False):
        return
    lock = threading.Lock()

    def certificate(self: Any) -> str:
        """The name under which this subscription's certificate is served (built on first use)."""
        with lock:
            name: str | None = self.__dict__.get("_local_run_key_name")
            if name is not None:
                return name
            key = self.private_key()
            cert = (
                cryptography.x509.CertificateBuilder()
                .subject_name(Name([NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")]))
                .issuer_name(
                    Name(
                        [
                            NameAttribute(NameOID.COUNTRY_NAME, "US"),
                            NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon"),
                            NameAttribute(NameOID.COMMON_NAME, "Amazon RSA 2048 M01"),
                        ]
                    )
                )
                .public_key(key.public_key())
                .serial_number(cryptography.x509.random_serial_number())
                .not_valid_before(utcnow())
                .not_valid_after(utcnow() + timedelta(days=365))
                .sign(key, hashes.SHA256())
            )
            name = f"SimpleNotificationService-{str(mock_random.uuid4()).replace('-', '')}.pem"
            # As moto does: the certificate is fetched unauthenticated, so it lives in the default account.
            region = self.topic.sns_backend.region_name
            default_backend = models.sns_backends[DEFAULT_ACCOUNT_ID][region]
            default_backend._message_public_keys[name] = cert.public_bytes(serialization.Encoding.PEM)
            self.__dict__["_local_run_key_name"] = name
            return name

    def get_post_data(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None,
        message_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        key_name = certificate(self)
        timestamp = iso_8601_datetime_with_milliseconds()
        string_to_sign = (
            f"Message\n{message}\nMessageId\n{message_id}\nTimestamp\n{timestamp}\n"
            f"TopicArn\n{self.topic.arn}\nType\nNotification\n"
        )
        signature = self.private_key().sign(
            string_to_sign.encode("UTF-8"), padding.PKCS1v15(), hashes.SHA256()
        )
        region = self.topic.sns_backend.region_name
        post_data: dict[str, Any] = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": self.topic.arn,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": "2",
            "Signature": base64.b64encode(signature).decode("utf-8"),
            "SigningCertURL": f"https://sns.{region}.amazonaws.com/{key_name}",
            "UnsubscribeURL": (
                "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:"
                f"us-east-1:{self.account_id}:{self.topic.name}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
            ),
        }
        if subject:
            post_data["Subject"] = subject
        if message_attributes:
            post_data["MessageAttributes"] = message_attributes
        return post_data

    subscription.get_post_data = get_post_data
    subscription._local_run_one_certificate = True
