"""AWS Signature Version 4, checked the way AWS's JSON-protocol front end checks it.

A signature covers the canonical request (method, URI, query, the headers named in
SignedHeaders, the payload's SHA-256); the string to sign binds its hash to the request's
timestamp and credential scope (date/region/service/aws4_request); the signing key is derived
from the secret through that same scope. `verify` runs AWS's checks in AWS's order, so a request
with several faults gets the error AWS gives first: a missing header
(MissingAuthenticationTokenException), missing parts (IncompleteSignatureException), the time
window, 'Host' being signed, the algorithm, the credential's shape, its scope, the key id
(UnrecognizedClientException), and only then the signature (InvalidSignatureException).
Codes and wording are those AWS's JSON services answer with (`com.amazon.coral.service#...`).

Pure functions: the caller supplies the clock reading and the secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import quote, unquote

import msgspec

from runtime.errors import AslError

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
SERVICE: Final = "states"
#: AWS refuses requests whose timestamp is more than 15 minutes from its own clock.
MAX_SKEW: Final = timedelta(minutes=15)
EMPTY_PAYLOAD_SHA256: Final = hashlib.sha256(b"").hexdigest()

MISSING_TOKEN: Final = "MissingAuthenticationTokenException"
INCOMPLETE_SIGNATURE: Final = "IncompleteSignatureException"
INVALID_SIGNATURE: Final = "InvalidSignatureException"
UNRECOGNIZED_CLIENT: Final = "UnrecognizedClientException"
AUTH_ERROR_CODES: Final = (MISSING_TOKEN, INCOMPLETE_SIGNATURE, INVALID_SIGNATURE,
                           UNRECOGNIZED_CLIENT)

_TIMESTAMP_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_BASIC_TIMESTAMP_RE: Final = re.compile(r"\d{8}T\d{6}Z")
#: us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, ...
REGION_RE: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_MISMATCH: Final = ("The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.")


class SignedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request as it arrived: `path` and `query` still percent-encoded, header names lower
    case and in arrival order (a repeated header appears once per occurrence)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)


class Credential(msgspec.Struct, frozen=True, kw_only=True):
    """`Credential=<access key>/<date>/<region>/<service>/<terminator>`."""

    access_key: str
    date: str
    region: str
    service: str
    terminator: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


class Authorization(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
    Signature=...` header, as sent (not yet checked)."""

    algorithm: str
    credential: str
    signed_headers: str
    signature: str


# -- the signing computation ---------------------------------------------------------------


def canonical_uri(path: str) -> str:
    """The path with dot segments and repeated slashes removed, encoded once more (as AWS's
    SDKs sign every service but S3)."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    trailing = "/" if path.endswith("/") and segments else ""
    return quote("/" + "/".join(segments) + trailing, safe="/~")


def canonical_query(query: str) -> str:
    """Each name and value URI-encoded (RFC 3986 unreserved characters kept), sorted by name,
    then by value."""
    if not query:
        return ""
    pairs = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(headers: Sequence[tuple[str, str]], signed: Sequence[str]) -> str:
    """`name:value` lines for the signed headers; a repeated header's values are joined with
    commas, and runs of spaces in a value become one."""
    lines = []
    for name in signed:
        values = [" ".join(value.split()) for key, value in headers if key == name]
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def canonical_request(request: SignedRequest, signed_headers: Sequence[str],
                      payload_hash: str) -> str:
    return "\n".join((
        request.method.upper(),
        canonical_uri(request.path),
        canonical_query(request.query),
        canonical_headers(request.headers, signed_headers),
        ";".join(signed_headers),
        payload_hash,
    ))


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    return "\n".join((ALGORITHM, timestamp, scope,
                      hashlib.sha256(canonical.encode()).hexdigest()))


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, TERMINATOR)


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


# -- parsing -------------------------------------------------------------------------------


def parse_authorization(header: str) -> Authorization:
    """Split the header into its parts; IncompleteSignatureException names every part that
    is missing, as AWS does."""
    algorithm, _, rest = header.strip().partition(" ")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    missing = "".join(f"Authorization header requires '{name}' parameter. "
                      for name in ("Credential", "Signature", "SignedHeaders")
                      if not parts.get(name))
    if missing:
        raise AslError(INCOMPLETE_SIGNATURE, f"{missing}Authorization={header}")
    return Authorization(algorithm=algorithm, credential=parts["Credential"],
                         signed_headers=parts["SignedHeaders"], signature=parts["Signature"])


def parse_credential(text: str) -> Credential:
    # AWS ignores trailing slashes before counting the elements.
    elements = text.rstrip("/").split("/")
    if len(elements) != 5:
        raise AslError(INCOMPLETE_SIGNATURE,
                       f"Credential must have exactly 5 slash-delimited elements, e.g. "
                       f"keyid/date/region/service/term, got '{text}'")
    access_key, date, region, service, terminator = elements
    return Credential(access_key=access_key, date=date, region=region, service=service,
                      terminator=terminator)


def request_time(request: SignedRequest) -> str:
    """The request's timestamp in ISO-8601 basic format, from X-Amz-Date or else Date."""
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        if not _BASIC_TIMESTAMP_RE.fullmatch(amz_date):
            raise _bad_date(amz_date)
        try:
            datetime.strptime(amz_date, _TIMESTAMP_FORMAT)
        except ValueError:
            raise _bad_date(amz_date) from None
        return amz_date
    date = request.header("date")
    if date is None:
        raise AslError(INCOMPLETE_SIGNATURE,
                       "Authorization header requires existence of either a 'X-Amz-Date' or "
                       f"a 'Date' header. Authorization={request.header('authorization')}")
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise _bad_date(date) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def _bad_date(text: str) -> AslError:
    return AslError(INCOMPLETE_SIGNATURE,
                    f"Date must be in ISO-8601 'basic format'. Got '{text}'. "
                    "See http://en.wikipedia.org/wiki/ISO_8601")


# -- verification --------------------------------------------------------------------------


def verify(request: SignedRequest, secrets: Mapping[str, str], *, now: datetime,
           service: str = SERVICE) -> Credential:
    """Check `request`'s SigV4 signature against the secret of the access key it names.

    Args:
        secrets: access key id -> secret access key.
        now: the server's clock (aware, UTC); the request's timestamp must be within 15
            minutes of it.

    Returns:
        The request's credential (access key, date, region, service).

    Raises:
        AslError: MissingAuthenticationTokenException, IncompleteSignatureException,
            InvalidSignatureException or UnrecognizedClientException, worded as AWS words
            them.
    """
    header = request.header("authorization")
    if header is None or not header.strip().startswith("AWS4-"):
        raise AslError(MISSING_TOKEN, "Request is missing Authentication Token")
    authorization = parse_authorization(header)
    timestamp = request_time(request)
    _check_time(timestamp, now)
    signed_headers = authorization.signed_headers.split(";")
    if "host" not in (name.lower() for name in signed_headers):
        raise AslError(INVALID_SIGNATURE,
                       "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if authorization.algorithm != ALGORITHM:
        raise AslError(INCOMPLETE_SIGNATURE,
                       f"Unsupported AWS 'algorithm': '{authorization.algorithm}' "
                       f"(only {ALGORITHM} for now). ")
    credential = parse_credential(authorization.credential)
    _check_scope(credential, timestamp, service=service)
    secret = secrets.get(credential.access_key)
    if secret is None:
        raise AslError(UNRECOGNIZED_CLIENT,
                       "The security token included in the request is invalid.")
    payload_hash = _payload_hash(request)
    canonical = canonical_request(request, signed_headers, payload_hash)
    to_sign = string_to_sign(timestamp, credential.scope, canonical)
    expected = signature(signing_key(secret, credential.date, credential.region,
                                     credential.service), to_sign)
    if not hmac.compare_digest(expected, authorization.signature):
        raise AslError(INVALID_SIGNATURE,
                       f"{_MISMATCH}\n\nThe Canonical String for this request should have "
                       f"been\n'{canonical}'\n\nThe String-to-Sign should have been\n"
                       f"'{to_sign}'\n")
    return credential


def _check_time(timestamp: str, now: datetime) -> None:
    sent = datetime.strptime(timestamp, _TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    minutes = int(MAX_SKEW.total_seconds() // 60)
    if sent < now - MAX_SKEW:
        raise AslError(INVALID_SIGNATURE,
                       f"Signature expired: {timestamp} is now earlier than "
                       f"{_format(now - MAX_SKEW)} ({_format(now)} - {minutes} min.)")
    if sent > now + MAX_SKEW:
        raise AslError(INVALID_SIGNATURE,
                       f"Signature not yet current: {timestamp} is still later than "
                       f"{_format(now + MAX_SKEW)} ({_format(now)} + {minutes} min.)")


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)


def _check_scope(credential: Credential, timestamp: str, *, service: str) -> None:
    """AWS reports every fault of the scope in one message. Any well-formed region is valid:
    this server serves every region."""
    faults = []
    if not REGION_RE.fullmatch(credential.region):
        faults.append(f"Credential should be scoped to a valid region, not "
                      f"'{credential.region}'. ")
    if credential.service != service:
        faults.append(f"Credential should be scoped to correct service: '{service}'. ")
    if credential.terminator != TERMINATOR:
        faults.append(f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
                      f"not '{credential.terminator}'. ")
    if credential.date != timestamp[:8]:
        faults.append(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                      f"of date from HTTP: '{credential.date}' != '{timestamp[:8]}', from "
                      f"'{timestamp}'.")
    if faults:
        raise AslError(INVALID_SIGNATURE, "".join(faults).rstrip())


def _payload_hash(request: SignedRequest) -> str:
    """The body's SHA-256. A client may send it as X-Amz-Content-SHA256 (and sign that); it
    must then match the body, or the body could be swapped under a valid signature."""
    actual = hashlib.sha256(request.body).hexdigest()
    declared = request.header("x-amz-content-sha256")
    if declared is not None and declared != actual:
        raise AslError(INVALID_SIGNATURE,
                       "The provided 'x-amz-content-sha256' header does not match what was "
                       "computed.")
    return actual
