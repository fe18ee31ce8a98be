"""One REST connector base: auth, paging and rate limiting as strategies, retries as a wrapper, and
one translation of HTTP failures into the hub's error classes (docs/decisions/0017)."""

from stockbridge.connectors.rest.auth import BearerAuth, HeaderAuth
from stockbridge.connectors.rest.calls import CallStats, Window
from stockbridge.connectors.rest.client import AnswerCheck, Pacer, RestClient
from stockbridge.connectors.rest.failures import ErrorBody, ErrorReader, plain_error, translate
from stockbridge.connectors.rest.paging import (
    CursorPaging,
    GraphQLCursorPaging,
    OffsetPaging,
    Page,
    PageRequest,
    Paging,
    Token,
)
from stockbridge.connectors.rest.retry import Retries, with_retries

__all__ = [
    "AnswerCheck",
    "BearerAuth",
    "CallStats",
    "CursorPaging",
    "ErrorBody",
    "ErrorReader",
    "GraphQLCursorPaging",
    "HeaderAuth",
    "OffsetPaging",
    "Pacer",
    "Page",
    "PageRequest",
    "Paging",
    "RestClient",
    "Retries",
    "Token",
    "Window",
    "plain_error",
    "translate",
    "with_retries",
]
