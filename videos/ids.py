"""Opaque, unguessable public ids: `ses_…` and `vid_…` (never the database pk)."""

import secrets


def _new(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def new_session_id() -> str:
    return _new("ses_")


def new_video_id() -> str:
    return _new("vid_")
