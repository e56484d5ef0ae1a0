"""The body of ``POST /v1/chat/completions``, validated and turned into an :class:`LLMRequest`.

Only what the engine seam can honour is modelled: text content, function
tools, ``tool_choice``, a token limit, streaming. Sampling knobs
(``temperature``, ``top_p``, ``seed``, ...) are accepted and ignored, as a
local model server does; anything the engines cannot do (several choices,
image parts) is refused with a 400 that names the field, never silently
dropped.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from ..engines.base import ChatMessage, LLMRequest, ToolCall, ToolSpec
from ..protocol.errors import RemoteProtocolError
from ..protocol.paths import describe_validation_error, first_error

_WHERE = "POST /v1/chat/completions"
FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


class _Lenient(BaseModel):
    """Unknown fields are accepted (clients send vendor extras) and ignored."""

    model_config = ConfigDict(extra="allow")


class TextPart(_Lenient):
    type: Literal["text"]
    text: str


class FunctionCallIn(_Lenient):
    name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    arguments: str = ""


class ToolCallIn(_Lenient):
    id: Annotated[str, Field(min_length=1)]
    type: Literal["function"] = "function"
    function: FunctionCallIn


class Message(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, content: Any) -> Any:
        """One clear message for content the engines cannot read (not a union's two errors)."""
        if content is None or isinstance(content, str):
            return content
        if not isinstance(content, list):
            raise ValueError("content must be a string or a list of {'type': 'text'} parts")
        for index, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text":
                raise ValueError(
                    f"only 'text' content parts are supported (part {index} is {kind!r}); "
                    "this server's engines read text"
                )
            if not isinstance(part.get("text"), str):
                raise ValueError(f"content part {index} needs a 'text' string")
        return content

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""


class FunctionDef(_Lenient):
    name: Annotated[str, Field(pattern=FUNCTION_NAME)]
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)


class ChatTool(_Lenient):
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(_Lenient):
    name: str


class NamedToolChoice(_Lenient):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Lenient):
    include_usage: StrictBool = False


class ChatRequest(_Lenient):
    model: Annotated[str, Field(min_length=1)]
    messages: Annotated[list[Message], Field(min_length=1)]
    tools: list[ChatTool] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


def parse_chat_request(body: bytes) -> ChatRequest:
    """The validated request, or :class:`RemoteProtocolError` naming the field."""
    try:
        request = ChatRequest.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise _describe(exc) from None
    _check_consistency(request)
    return request


def _describe(exc: ValidationError) -> RemoteProtocolError:
    error = dict(first_error(exc))
    if error["type"] == "json_invalid":
        return RemoteProtocolError(
            f"The request body is not valid JSON: {error['msg']}.", code="invalid_json"
        )
    if error["type"] == "model_type" and not error["loc"]:
        return RemoteProtocolError(
            "The request body must be a JSON object with 'model' and 'messages'.",
            code="invalid_type",
        )
    error["loc"] = ("request", *error["loc"])
    error["msg"] = str(error["msg"]).removeprefix("Value error, ")
    code, param, message = describe_validation_error(error, _WHERE)
    return RemoteProtocolError(message, code=code, param=param)


def _check_consistency(request: ChatRequest) -> None:
    """What the schema alone cannot say: tool turns answer a call, a forced tool exists."""
    for index, message in enumerate(request.messages):
        if message.role == "tool" and not message.tool_call_id:
            raise RemoteProtocolError(
                f"messages[{index}] has role 'tool' but no 'tool_call_id'; set it to the id "
                "of the assistant tool call this message answers.",
                code="missing_required_parameter",
                param=f"messages[{index}].tool_call_id",
            )
        if message.tool_calls and message.role != "assistant":
            raise RemoteProtocolError(
                f"messages[{index}] has 'tool_calls' but role {message.role!r}; only "
                "assistant messages carry tool calls.",
                code="invalid_value",
                param=f"messages[{index}].tool_calls",
            )
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        offered = {tool.function.name for tool in request.tools or ()}
        if choice.function.name not in offered:
            raise RemoteProtocolError(
                f"tool_choice names function {choice.function.name!r}, which is not in "
                f"'tools' (offered: {sorted(offered) or 'none'}). Offer it or choose 'auto'.",
                code="invalid_value",
                param="tool_choice.function.name",
            )


def llm_request(request: ChatRequest) -> LLMRequest:
    """The chat request as the engine seam's request.

    System and developer messages become the instructions (in order); the
    engines take instructions apart from the turns, as a Realtime session does.
    """
    instructions: list[str] = []
    messages: list[ChatMessage] = []
    for message in request.messages:
        if message.role in ("system", "developer"):
            instructions.append(message.text)
        elif message.role == "tool":
            messages.append(
                ChatMessage(role="tool", content=message.text, tool_call_id=message.tool_call_id)
            )
        elif message.role == "assistant":
            calls = tuple(
                ToolCall(call_id=c.id, name=c.function.name, arguments=c.function.arguments)
                for c in message.tool_calls or ()
            )
            messages.append(ChatMessage(role="assistant", content=message.text, tool_calls=calls))
        else:
            messages.append(ChatMessage(role="user", content=message.text))
    tools = [
        ToolSpec(
            name=tool.function.name,
            description=tool.function.description,
            parameters=tool.function.parameters,
        )
        for tool in request.tools or ()
    ]
    return LLMRequest(
        instructions="\n\n".join(part for part in instructions if part),
        messages=messages,
        tools=tools,
        tool_choice=_tool_choice(request),
        max_output_tokens=request.max_completion_tokens or request.max_tokens,
    )


def _tool_choice(request: ChatRequest) -> str:
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        return choice.function.name
    if choice is None:
        return "auto" if request.tools else "none"
    return choice
