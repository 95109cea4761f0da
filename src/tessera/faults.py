"""What a failed connection or system call means to a user, in one line: the CLI says these
instead of a traceback (or a chain of three botocore ones)."""

from __future__ import annotations

import errno

_NETWORK_MODULES = ("botocore", "aiobotocore", "aiohttp", "urllib3")


def unreachable(exc: BaseException) -> bool:
    """Whether an error, or one it was raised from, is a connection that failed or timed out
    (the built-in errors, or botocore's, aiohttp's and urllib3's, which are not OSErrors)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        module, name = type(seen).__module__.split(".")[0], type(seen).__name__
        if isinstance(seen, ConnectionError | TimeoutError) or (
            module in _NETWORK_MODULES and ("Connect" in name or "Timeout" in name)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def explain(exc: BaseException) -> str | None:
    """The line to say for ``exc``; None for an error that is a bug, whose traceback is kept."""
    if unreachable(exc):
        return (
            f"the network or object store did not answer ({type(exc).__name__}: {str(exc)[:200]}); "
            "check the endpoint and your connection, then rerun (embed resumes where it stopped)"
        )
    if not isinstance(exc, OSError):
        return None
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full{where}: free space and rerun (embed and train resume where they stopped)"
    if exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror}: another program holds that port; give another --port (0 picks a free one)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{exc.strerror}: this machine has no such address; give --host 127.0.0.1 or one of its own"
    return f"{exc.strerror or exc}{where}; check the path and its permissions (TESSERA_DEBUG=1 shows the traceback)"
