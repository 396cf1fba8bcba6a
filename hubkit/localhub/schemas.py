"""What the local hub accepts: one pydantic schema per request body (and query), and the limits.

`read_body` runs only after the route's credentials were checked (server.py). It reads at most
the schema's `limit` bytes (413 from Content-Length before reading a byte, or as soon as a
chunked body passes it), in one of the schema's media types (415 otherwise; an empty body is
`{}`), parses JSON nested at most MAX_DEPTH levels (400 deeper) and validates it strictly: a
string is not a number, a number is not a boolean (400 naming the field). Unknown keys are
ignored, as the Hub ignores them. NDJSON lines are split on "\\n" only: str.splitlines would
also split inside a JSON string (U+2028, U+0085, ...).
"""

from __future__ import annotations

import base64
import binascii
import json
import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request

from hubkit.localhub.store import HubError
from hubkit.repos import human_bytes

MAX_JSON_BODY = 2 * 1024 * 1024  # a JSON or form body (preupload of 256 files is about 200 KiB)
MAX_COMMIT_BODY = 64 * 1024 * 1024  # an NDJSON commit: regular files (each under 10 MiB) travel inline
MAX_DEPTH = 32  # levels of JSON nesting; every schema here needs 4 at most

JSON, NDJSON, FORM = "application/json", "application/x-ndjson", "application/x-www-form-urlencoded"


def media_type(content_type: str) -> str | None:
    """JSON (application/json or any application/...+json, such as git-lfs+json), NDJSON, FORM or None."""
    mt = content_type.split(";")[0].strip().lower()
    if mt == JSON or (mt.startswith("application/") and mt.endswith("+json")):
        return JSON
    return {NDJSON: NDJSON, "application/ndjson": NDJSON, FORM: FORM}.get(mt)


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None


Base64 = Annotated[bytes, BeforeValidator(_base64)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Size = Annotated[int, Field(ge=0)]
RepoType = Literal["model", "dataset", "space"]
Visibility = Literal["public", "private"]


class Body(BaseModel):
    """A request body: strict types, unknown keys ignored; `media` and `limit` say how it may arrive."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    media: ClassVar[tuple[str, ...]] = (JSON,)
    limit: ClassVar[int] = MAX_JSON_BODY


class Query(BaseModel):
    """Query parameters: strings, converted (lax) to the declared types."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# --- repos -------------------------------------------------------------------------------------
class RepoName(Body):
    """`/api/repos/delete` (and the start of create): the repo is `organization/name`."""

    name: str
    organization: str | None = None
    type: RepoType | None = None

    def repo(self, user: str) -> tuple[str, str]:
        return self.type or "model", f"{self.organization or user}/{self.name}"


class _Visibility(Body):
    private: bool | None = None
    visibility: Visibility | None = None  # huggingface_hub >= 1.0 sends this; older clients `private`

    @property
    def is_private(self) -> bool | None:
        return self.private if self.visibility is None else self.visibility == "private"


class CreateRepo(RepoName, _Visibility):
    sdk: str | None = None


class Settings(_Visibility):
    gated: Literal["auto", "manual"] | bool | None = None  # accepted, not enforced here


class ValidateYaml(Body):
    content: str
    repoType: RepoType | None = None


class Branch(Body):
    startingPoint: str | None = None
    exist_ok: bool = False


class Tag(Body):
    tag: str
    message: str | None = None


class SecretKey(Body):
    key: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]


class Secret(SecretKey):
    value: str = ""
    description: str | None = None


# --- uploads -----------------------------------------------------------------------------------
class PreuploadFile(Body):
    path: str
    sample: Base64 = b""
    size: Size


class Preupload(Body):
    files: list[PreuploadFile]


class PathsInfo(Body):
    media = (FORM, JSON)  # huggingface_hub posts a form
    paths: list[str] = []


class LfsObject(Body):
    oid: Sha256
    size: Size


class LfsBatch(Body):
    operation: Literal["upload"] = "upload"  # this hub serves downloads at /resolve only
    objects: list[LfsObject]


class LfsVerify(Body):
    oid: Sha256
    size: Size


class LfsSigned(Query):
    """An upload or verify URL handed out by the LFS batch answer, signed for one repo."""

    size: Size
    repo: str
    sig: str


class TokenRequest(Body):
    """RFC 8693 token exchange: JSON (huggingface_hub) or a form (RFC 6749)."""

    media = (JSON, FORM)
    grant_type: str | None = None
    subject_token: str | None = None
    subject_token_type: str | None = None
    resource: str | None = None


# --- commits -----------------------------------------------------------------------------------
class CommitHeader(Body):
    summary: str = ""
    description: str = ""
    parentCommit: Annotated[str, Field(pattern=r"^[0-9a-f]{7,40}$")] | None = None  # "" is not "none given"


class FileOp(Body):
    path: str
    content: Base64
    encoding: Literal["base64"] = "base64"


class LfsFileOp(Body):
    path: str
    oid: Sha256
    size: Size | None = None  # a copy (CommitOperationCopy) names the object only
    algo: Literal["sha256"] = "sha256"


class PathOp(Body):
    path: str


class FileLine(Body):
    key: Literal["file"]
    value: FileOp


class LfsFileLine(Body):
    key: Literal["lfsFile"]
    value: LfsFileOp


class DeletedFileLine(Body):
    key: Literal["deletedFile"]
    value: PathOp


class DeletedFolderLine(Body):
    key: Literal["deletedFolder"]
    value: PathOp


Operation = Annotated[FileLine | LfsFileLine | DeletedFileLine | DeletedFolderLine, Field(discriminator="key")]


class Commit(Body):
    """An NDJSON commit: a header line, then one line per operation."""

    media = (NDJSON,)
    limit = MAX_COMMIT_BODY
    header: CommitHeader
    operations: list[Operation]

    @model_validator(mode="before")
    @classmethod
    def _lines(cls, lines: Any) -> Any:
        first = lines[0] if isinstance(lines, list) and lines else None
        if not isinstance(first, dict) or first.get("key") != "header" or "value" not in first:
            raise ValueError('a commit starts with a header line {"key": "header", "value": {...}}')
        return {"header": first["value"], "operations": lines[1:]}


# --- jobs --------------------------------------------------------------------------------------
Label = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")]
VariableName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]


class JobSpec(Body):
    """`POST /api/jobs/{namespace}`: what huggingface_hub's run_job sends (`_create_job_spec`)."""

    command: Annotated[list[str], Field(min_length=1)]
    arguments: list[str] = []
    environment: dict[VariableName, str] = {}
    secrets: dict[VariableName, str] = {}
    flavor: str = "cpu-basic"
    timeoutSeconds: Annotated[int, Field(gt=0)] | None = None
    labels: dict[Label, Label] = {}
    dockerImage: str | None = None
    spaceId: str | None = None
    volumes: list[Any] = []

    @model_validator(mode="after")
    def _runnable(self) -> JobSpec:
        if self.volumes:
            raise ValueError("volumes are not supported by the local hub")
        if (self.dockerImage is None) == (self.spaceId is None):
            raise ValueError("give one of dockerImage or spaceId")
        return self


class JobLabels(Body):
    labels: dict[Label, Label]


# --- queries -----------------------------------------------------------------------------------
class ListQuery(Query):
    author: str | None = None
    search: str | None = None
    limit: Size | None = None


class TreeQuery(Query):
    recursive: bool = False


class RefsQuery(Query):
    include_prs: bool = False


class CommitQuery(Query):
    create_pr: bool = False


class JobsQuery(Query):
    stage: list[str] = []
    label: list[str] = []  # key=value, every one must match
    cursor: Size = 0  # where the page starts (the `next` link carries it)
    limit: Annotated[int, Field(ge=1, le=100)] | None = None


class LogsQuery(Query):
    tail: Size | None = None


# --- reading -----------------------------------------------------------------------------------
async def read_bytes(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it is known to pass `limit` (Content-Length first)."""
    declared = request.headers.get("content-length", "")
    too_big = HubError(413, f"Request body too large: the limit here is {human_bytes(limit)}")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


async def read_body(request: Request, schema: type[Body]) -> Body:
    raw = await read_bytes(request, schema.limit)
    return validate(schema, decode(raw, request.headers.get("content-type", ""), schema))


def decode(raw: bytes, content_type: str, schema: type[Body]) -> Any:
    """Bytes -> the JSON value (or list of NDJSON values, or form dict) the schema validates."""
    if not raw.strip():
        return [] if schema.media == (NDJSON,) else {}
    media = media_type(content_type)
    if media not in schema.media:
        raise HubError(415, f"Unsupported Content-Type: send {' or '.join(schema.media)}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HubError(400, f"The request body is not UTF-8 (byte {exc.start})") from None
    if media == FORM:
        return _form(text, schema)
    if media == NDJSON:
        return [_json(line, n) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    return _json(text)


def _json(text: str, line: int | None = None) -> Any:
    where = f" (line {line})" if line else ""
    too_deep = HubError(400, f"JSON nested deeper than {MAX_DEPTH} levels{where}")
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than the interpreter's own limit (~1000)
        raise too_deep from None
    except ValueError as exc:
        raise HubError(400, f"Invalid JSON{where}: {exc}") from None
    if _deeper_than(value, MAX_DEPTH):
        raise too_deep
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))
    return False


def _form(text: str, schema: type[BaseModel]) -> dict[str, Any]:
    """A form (or a query string) as the schema declares it: list fields keep every value, others the last one."""
    from urllib.parse import parse_qs

    out: dict[str, Any] = {}
    for key, values in parse_qs(text, keep_blank_values=True).items():
        field = schema.model_fields.get(key)
        is_list = field is not None and typing.get_origin(field.annotation) is list
        out[key] = values if is_list else values[-1]
    return out


def query(schema: type[Query], query_string: str) -> Query:
    return validate(schema, _form(query_string, schema), "query")


def validate(schema: type[BaseModel], data: Any, what: str = "request body") -> Any:
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        raise HubError(400, f"Invalid {what}: {describe(err)}") from None


def describe(err: ValidationError) -> str:
    """The first problem as `field.path: reason` (and how many more), one line."""
    problems = err.errors(include_url=False, include_input=False)
    first = problems[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"
