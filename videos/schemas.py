"""Request schemas of the JSON API. The spec's field aliases live here, once."""

from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AliasChoices, ConfigDict, Field, StrictBool, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

NUL_ERROR = "nul_byte"  # the error type the API answers with a 400 naming the field


def nul_free(value: Any) -> Any:
    """Refuse NUL characters in a string (PostgreSQL cannot store them): a 400 naming the field."""
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError(NUL_ERROR, "must not contain NUL (\\u0000) characters")
    return value


class ApiInput(Schema):
    """Base of every request schema (body and query): no string field may carry a NUL character."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return nul_free(value)

Prompt = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
ModelId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ImageRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=15_000_000)]


def _document_aliases(schema: dict[str, Any], model: type) -> None:
    """OpenAPI: list every alias the model accepts as a property of its own, pointing at the canonical one."""
    schema["examples"] = [{"prompt": "A cat playing with a ball of yarn", "model": "minimax-hailuo-02-6s-768p-t2v",
                           **({"duration_minutes": 5, "max_videos": 3, "interval_seconds": 60}
                              if "max_videos" in model.model_fields else {})}]  # type: ignore[attr-defined]
    properties = schema.setdefault("properties", {})
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        choices = getattr(info.validation_alias, "choices", None)
        if not choices:
            continue
        canonical = properties.get(name) or properties.get(choices[0])
        if canonical is None:
            continue
        for alias in choices:
            if alias not in properties:
                properties[alias] = {**canonical, "title": alias, "description": f"Alias of `{name}`."}


class GenerateIn(ApiInput):
    """POST /videos/generate. Unknown fields are ignored (clients send vendor extras freely)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", json_schema_extra=_document_aliases)

    prompt: Prompt
    model: ModelId
    head_image: ImageRef | None = Field(None, validation_alias=AliasChoices("head_image", "image", "reference_image"))
    tail_image: ImageRef | None = Field(None, validation_alias=AliasChoices("tail_image", "imageTail"))
    duration: int | None = Field(None, ge=1, le=60,
                                 validation_alias=AliasChoices("duration", "duration_seconds", "length"))
    aspect_ratio: str | None = Field(None, max_length=8, validation_alias=AliasChoices("aspect_ratio", "aspectRatio"))
    resolution: str | None = Field(None, max_length=8)
    width: int | None = Field(None, ge=128, le=3840)
    height: int | None = Field(None, ge=128, le=3840)
    frame_rate: int | None = Field(None, ge=12, le=60, validation_alias=AliasChoices("frame_rate", "fps"))
    strategy: Literal["cinematic", "realistic", "animated", "artistic"] | None = None
    seed: int | None = Field(None, ge=0, le=2_147_483_647)
    promptOptimizer: StrictBool | None = Field(None, validation_alias=AliasChoices("promptOptimizer", "prompt_optimizer"))
    generateAudio: StrictBool | None = Field(None, validation_alias=AliasChoices("generateAudio", "generate_audio"))
    strength: int | None = Field(None, ge=0, le=100)
    wanAudio: StrictBool | None = Field(None, validation_alias=AliasChoices("wanAudio", "wan_audio"))
    callback_url: str | None = Field(None, max_length=2048, validation_alias=AliasChoices("callback_url", "webhook"))
    fallback_models: list[ModelId] | None = Field(
        None, max_length=5, description="Catalog model ids to resubmit to, in order, if the vendor fails the job "
                                        "for a transient reason (outage, timeout, capacity, expired result) after "
                                        "accepting it. Each must take this request as it is.")


class SessionIn(GenerateIn):
    """POST /videos/sessions: a generation plus its timing."""

    duration_minutes: int = Field(30, ge=1, le=24 * 60)
    max_videos: int = Field(50, ge=1, le=100)
    interval_seconds: int = Field(60, ge=10, le=24 * 3600)
    budget_credits: float | None = Field(
        None, gt=0, le=10_000_000, allow_inf_nan=False,
        description="Optional cap on what the session spends (charges less refunds). A video that would take "
                    "it over is not made: the session ends with a note. At least one video's price.")


PROVIDER_PARAMS = ("promptOptimizer", "generateAudio", "strength", "wanAudio")
