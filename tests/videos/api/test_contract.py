"""The contract, judged by tools no one here wrote.

schemathesis generates requests from our OpenAPI document (valid and invalid ones, with a valid key) and
checks every answer against it: no 5xx, only documented statuses, content types, headers and bodies that
match their schemas, 405 with Allow for methods a path lacks. openapi-python-client generates a typed
client from the same document, and that client's models parse real answers of a live server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.factories import make_key, make_user

# Not negative_data_rejection: the API ignores query parameters and body fields it does not know (clients
# add cache-busters and vendor extras), which that check counts as accepting invalid data.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.ignored_auth,  # the same request without / with a wrong X-API-Key is refused
]


# Per operation and mode: bounded so the run stays short, and derandomized so `make test` is repeatable;
# CONTRACT_EXAMPLES=500 CONTRACT_RANDOM=1 hunts wider.
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "25"))
RANDOM = bool(os.environ.get("CONTRACT_RANDOM"))


@pytest.fixture
def api_key(transactional_db: None) -> str:
    return make_key(make_user("contract", credits=1_000_000))[1]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_matches_the_openapi_document(live_server: Any, api_key: str, mode: Any) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v3/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    statuses: Counter[int] = Counter()
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=not RANDOM,
                             suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def honours_the_document(case: Any) -> None:
            response = case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS, timeout=120)
            statuses[response.status_code] += 1

        honours_the_document()
    print(f"\nschemathesis {mode.value}: {sum(statuses.values())} calls, statuses {dict(sorted(statuses.items()))}")
    assert not [code for code in statuses if code >= 500]
    assert any(code < 300 for code in statuses) and any(400 <= code < 500 for code in statuses)


@pytest.mark.django_db(transaction=True)
def test_workflows_along_the_documents_links_keep_to_it(live_server: Any, api_key: str) -> None:
    """Stateful: create, then poll, stop and delete what was created (the document's links), in random orders."""
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v3/openapi.json")
    calls: Counter[str] = Counter()

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        """Half of the create bodies are valid ones, so that workflows have something to follow."""
        if isinstance(body, dict) and "prompt" in body and "model" in body:
            valid = {"prompt": "A boat on a lake", "model": "luma-ray-2.0-flash-5s-t2v", "width": 320, "height": 180}
            if "max_videos" in body:  # a session: the same, timed
                valid.update(max_videos=2, interval_seconds=60)
            return st.sampled_from([body, valid])
        return st.just(body)

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            # No generated If-None-Match here: whether a GET answers 200 (a body whose links the workflow
            # follows) or 304 must not change between hypothesis' replays of a step. The stateless test above
            # and test_conditional.py cover the 304s.
            return {"headers": {"X-API-Key": api_key, "If-None-Match": ""}, "timeout": 120}

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
            calls[f"{case.operation.method.upper()} {case.operation.path} {response.status_code}"] += 1
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Workflow.run(settings=hypothesis_settings(max_examples=EXAMPLES, stateful_step_count=6, deadline=None,
                                              database=None, derandomize=not RANDOM,
                                              suppress_health_check=list(HealthCheck)))
    followed = [call for call in calls if "_id}" in call and call.endswith(" 200")]
    print(f"\nschemathesis stateful: {sum(calls.values())} calls; along links: {[(c, calls[c]) for c in followed]}")
    assert followed, calls  # a link was followed to a session that exists


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_parses_real_answers(live_server: Any, api_key: str, tmp_path: Path) -> None:
    document = tmp_path / "openapi.json"
    document.write_bytes(requests.get(f"{live_server.url}/api/v3/openapi.json", timeout=60).content)
    generator = Path(sys.executable).parent / "openapi-python-client"
    env = {**os.environ, "PATH": f"{generator.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(generator), "generate", "--path", str(document), "--meta", "none",
                             "--output-path", str(tmp_path / "mcp_video_client")],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        _use_the_generated_client(live_server.url, api_key)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == "mcp_video_client" or n.startswith("mcp_video_client.")]:
            del sys.modules[name]


def _use_the_generated_client(base: str, key: str) -> None:
    from mcp_video_client import AuthenticatedClient
    from mcp_video_client.api.credits_ import credits_detail
    from mcp_video_client.api.videos import (
        generate,
        history,
        models,
        session_create,
        session_detail,
        session_list,
        session_stop,
        video_detail,
    )
    from mcp_video_client.models import (
        CreatedOut,
        CreditsOut,
        ErrorOut,
        GenerateIn,
        HistoryOut,
        ModelsOut,
        SessionDetailOut,
        SessionIn,
        SessionListOut,
        SessionStopOut,
        VideoDetailOut,
    )

    client = AuthenticatedClient(base_url=base, token=key, prefix="", auth_header_name="X-API-Key")
    created = generate.sync(client=client, body=GenerateIn(prompt="A cat playing with a ball of yarn",
                                                           model="luma-ray-2.0-flash-5s-t2v"))
    assert isinstance(created, CreatedOut), created
    assert created.credits_used == 20.0 and created.session.session_id == created.session_id
    assert created.created_at.tzinfo is not None  # parsed as a datetime
    timed = session_create.sync(client=client, body=SessionIn(prompt="Mountains", model="luma-ray-2.0-flash-5s-t2v",
                                                              max_videos=2, interval_seconds=60))
    assert isinstance(timed, CreatedOut) and timed.session.kind == "timed"
    detail = session_detail.sync(client=client, session_id=created.session_id)
    assert isinstance(detail, SessionDetailOut) and detail.videos[0].video_id == created.video_id
    assert detail.videos[0].remaining_credits == created.remaining_credits - 20.0
    listed = session_list.sync(client=client, search="Mountains")
    assert isinstance(listed, SessionListOut) and listed.summary.total_sessions == 1
    video = video_detail.sync(client=client, video_id=created.video_id)
    assert isinstance(video, VideoDetailOut) and video.status in {"pending", "processing", "completed"}
    assert isinstance(history.sync(client=client), HistoryOut)
    stopped = session_stop.sync(client=client, session_id=timed.session_id)
    assert isinstance(stopped, SessionStopOut) and stopped.session.status in {"stopped", "completed"}
    catalog = models.sync(client=client)
    assert isinstance(catalog, ModelsOut) and catalog.count == len(catalog.models) > 10
    ledger = credits_detail.sync(client=client)
    assert isinstance(ledger, CreditsOut) and ledger.total_charged == 40.0
    refused = generate.sync_detailed(client=client, body=GenerateIn(prompt="x", model="no-such-model"))
    assert refused.status_code == 400 and isinstance(refused.parsed, ErrorOut)
    assert refused.parsed.error.field == "model" and refused.parsed.success is False
