"""OpenAI's videos API (`/v1/videos`) over the same services, credits and ledger as /api/v3.

Named `openai_compat`, never `openai`: a top-level `openai` module would shadow the SDK.
"""
