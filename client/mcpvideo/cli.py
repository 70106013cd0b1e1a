"""`mcpvideo`: generate videos, manage sessions, list models and credits from a terminal.

The key comes from --api-key or $MCPHUB_API_KEY, the API base from --base-url or $MCPHUB_BASE_URL.
Exit status: 0 done, 1 the API refused or failed, 2 bad usage, 3 the video failed, 4 gave up waiting.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from mcpvideo.client import DEFAULT_BASE_URL, Client
from mcpvideo.errors import APIError, GenerationFailed, RateLimited, WaitTimeout
from mcpvideo.objects import Session, Video


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mcpvideo", description="MCPHub-compatible Video Generation API client")
    parser.add_argument("--api-key", help="API key (default: $MCPHUB_API_KEY)")
    parser.add_argument("--base-url", help=f"API base URL (default: $MCPHUB_BASE_URL or {DEFAULT_BASE_URL})")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    commands = parser.add_subparsers(dest="command", required=True)

    def generation_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", required=True, help="model id (see `mcpvideo models`)")
        p.add_argument("--prompt", required=True)
        p.add_argument("--image", help="start image: a local file, an http(s) URL or a data: URI")
        p.add_argument("--tail", help="end image (keyframe models): a local file, a URL or a data: URI")
        p.add_argument("--duration", type=int, help="seconds")
        p.add_argument("--aspect-ratio", help="e.g. 16:9")
        p.add_argument("--resolution", help="e.g. 720p")
        p.add_argument("--seed", type=int)

    generate = commands.add_parser("generate", help="make one video")
    generation_options(generate)
    generate.add_argument("--wait", action="store_true", help="wait (with a progress bar) until it is done")
    generate.add_argument("-o", "--output", help="save the MP4 here (implies --wait)")
    generate.add_argument("--timeout", type=float, default=900, help="seconds to wait at most (default 900)")

    sessions = commands.add_parser("sessions", help="timed sessions").add_subparsers(dest="action", required=True)
    create = sessions.add_parser("create", help="start a session that makes a video every --interval seconds")
    generation_options(create)
    create.add_argument("--max-videos", type=int)
    create.add_argument("--interval", type=int, help="seconds between videos (at least 10)")
    create.add_argument("--minutes", type=int, help="how long the session runs")
    create.add_argument("--budget", type=float, help="credits the session may spend at most (it ends there)")
    listing = sessions.add_parser("list", help="your sessions")
    listing.add_argument("--page", type=int, default=1)
    listing.add_argument("--page-size", type=int, default=20)
    listing.add_argument("--status", choices=["pending", "running", "completed", "stopped", "error"])
    listing.add_argument("--search")
    for name, text in (("get", "a session and its videos"), ("stop", "stop a session"),
                       ("delete", "delete a session, its videos and files")):
        sessions.add_parser(name, help=text).add_argument("session_id")

    history = commands.add_parser("history", help="your videos, newest first")
    history.add_argument("--page", type=int, default=1)
    history.add_argument("--page-size", type=int, default=20)
    history.add_argument("--status", choices=["pending", "processing", "completed", "failed"])
    history.add_argument("--model")
    commands.add_parser("models", help="the models and their prices")
    commands.add_parser("credits", help="your credit balance")
    return parser


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def _video_line(video: Video) -> str:
    d = video.data
    sim = " (simulated)" if d.get("simulated") else ""
    return f"{d.get('video_id')}  {d.get('status', ''):<10} {d.get('model')}{sim}  {d.get('video_url') or ''}".rstrip()


def _session_text(session: Session) -> str:
    d = session.data
    head = (f"{d.get('session_id')}  {d.get('status')}  {d.get('model')}  videos: {d.get('total_videos', 0)}/"
            f"{d.get('max_videos')}  credits used: {d.get('credits_used')}")
    lines = [head]
    lines += ["  " + _video_line(v) for v in session.videos]
    return "\n".join(lines)


def _wait_with_bar(video: Video, timeout: float, quiet: bool) -> Video:
    bar = tqdm(total=100, unit="%", desc=video.id, disable=quiet, file=sys.stderr,
               bar_format="{desc} {bar} {n_fmt}% {postfix}")

    def on_progress(v: Video) -> None:
        bar.set_postfix_str(v.data.get("status", ""), refresh=False)
        bar.update(max(0, v.progress - bar.n))

    try:
        return video.wait(on_progress=on_progress, timeout=timeout, interval=1.0)
    finally:
        bar.close()


def _generate(client: Client, args: argparse.Namespace) -> int:
    video = client.generate(model=args.model, prompt=args.prompt, image=args.image, tail_image=args.tail,
                            duration=args.duration, aspect_ratio=args.aspect_ratio, resolution=args.resolution,
                            seed=args.seed)
    if args.wait or args.output:
        _wait_with_bar(video, args.timeout, quiet=args.json)
        if args.output:
            video.download(args.output)
    text = _video_line(video) + (f"\nsaved to {args.output}" if args.output else "")
    _print(args, video.data, text)
    return 0


def _sessions(client: Client, args: argparse.Namespace) -> int:
    if args.action == "create":
        session = client.sessions.create(
            model=args.model, prompt=args.prompt, image=args.image, tail_image=args.tail, duration=args.duration,
            aspect_ratio=args.aspect_ratio, resolution=args.resolution, seed=args.seed, max_videos=args.max_videos,
            interval_seconds=args.interval, duration_minutes=args.minutes, budget_credits=args.budget)
        _print(args, {**session.data, "videos": [v.data for v in session.videos]}, _session_text(session))
    elif args.action == "list":
        page = client.sessions.list(page=args.page, page_size=args.page_size, status=args.status, search=args.search)
        text = "\n".join(_session_text(s) for s in page) or "no sessions"
        text += f"\npage {page.page}/{page.total_pages}, {page.total_count} sessions"
        _print(args, {"sessions": [s.data for s in page], "page": page.page, "total_pages": page.total_pages,
                      "total_count": page.total_count, "summary": page.summary}, text)
    elif args.action == "get":
        session = client.sessions.get(args.session_id)
        _print(args, {**session.data, "videos": [v.data for v in session.videos]}, _session_text(session))
    elif args.action == "stop":
        session = client.sessions.stop(args.session_id)
        _print(args, session.data, _session_text(session))
    else:
        count = client.sessions.delete(args.session_id)
        _print(args, {"session_id": args.session_id, "videos_deleted": count},
               f"deleted {args.session_id} and {count} videos")
    return 0


def _run(client: Client, args: argparse.Namespace) -> int:
    if args.command == "generate":
        return _generate(client, args)
    if args.command == "sessions":
        return _sessions(client, args)
    if args.command == "history":
        page = client.history(page=args.page, page_size=args.page_size, status=args.status, model=args.model)
        text = "\n".join(_video_line(v) for v in page) or "no videos"
        _print(args, {"videos": [v.data for v in page], "page": page.page, "total_count": page.total_count}, text)
    elif args.command == "models":
        models = client.models()
        text = "\n".join(f"{m['model_id']:<40} {m.get('type', ''):<5} {m.get('duration')}s  "
                         f"{m.get('credits'):>7} credits  {m.get('available', '')}" for m in models)
        _print(args, models, text)
    else:
        credits = client.credits()
        _print(args, credits, f"{credits.get('remaining_credits')} credits remaining")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        client = Client(api_key=args.api_key, base_url=args.base_url)
    except ValueError as e:
        print(f"mcpvideo: {e}", file=sys.stderr)
        return 2
    try:
        return _run(client, args)
    except FileNotFoundError as e:
        print(f"mcpvideo: {e}", file=sys.stderr)
        return 2
    except GenerationFailed as e:
        print(f"mcpvideo: the video failed: {e}", file=sys.stderr)
        return 3
    except WaitTimeout as e:
        print(f"mcpvideo: {e}", file=sys.stderr)
        return 4
    except APIError as e:
        extra = f" (retry after {e.retry_after:g} s)" if isinstance(e, RateLimited) and e.retry_after else ""
        code = f" [{e.code}]" if e.code else ""
        print(f"mcpvideo: error{code}: {e}{extra}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
