"""The public pages: the stages, the language switch, each stage's bulletin board, its record,
"find my ballot", its results and chart, and the endorsement record."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from unionvote.domain.endorsement import parse_endorsement, questionnaire_key
from unionvote.domain.publication import CHART_FILE, record_file_name
from unionvote.services.board import (
    TrackerState,
    board_page,
    find_tracker,
    public_stages,
    published_endorsement,
    published_results,
    record_chunks,
)
from unionvote.services.publication import read_published
from unionvote.web.deps import ServicesDep, Verifier
from unionvote.web.i18n import LANGUAGES
from unionvote.web.pages import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, services: ServicesDep) -> Response:
    return render(request, "public/home.html", {"stages": public_stages(services)})


@router.get("/language/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    if code in LANGUAGES:
        response.set_cookie("lang", code, max_age=365 * 24 * 3600, samesite="strict", httponly=True)
    return response


@router.get("/stages/{stage}/board")
def board(
    request: Request,
    stage: str,
    services: ServicesDep,
    verifier: Verifier,
    tasks: BackgroundTasks,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    page = board_page(services, stage, before=before)
    # At most one check at a time and one per interval: the task decides again, atomically.
    if request.app.state.settings.verify_board and verifier.needs_run(stage):
        tasks.add_task(verifier.verify_if_due, stage)
    return render(
        request,
        "public/board.html",
        {"stage": stage, "page": page, "verification": verifier.status(stage)},
    )


@router.get("/stages/{stage}/record.bel")
def record(stage: str, services: ServicesDep) -> Response:
    chunks = record_chunks(services, stage)
    return StreamingResponse(
        chunks,
        media_type="application/x-tar",
        headers={"content-disposition": f'attachment; filename="{record_file_name(stage)}"'},
    )


@router.get("/stages/{stage}/find")
def find(
    request: Request,
    stage: str,
    services: ServicesDep,
    tracker: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    found = find_tracker(services, stage, tracker) if tracker else None
    return render(
        request,
        "public/find.html",
        {"stage": stage, "tracker": tracker or "", "found": found, "states": TrackerState},
    )


@router.get("/stages/{stage}/results")
def results(request: Request, stage: str, services: ServicesDep) -> Response:
    view = published_results(services, stage)
    return render(request, "public/results.html", {"stage": stage, "results": view})


@router.get("/stages/{stage}/results/report.txt")
def report_text(stage: str, services: ServicesDep) -> Response:
    return Response(
        read_published(services, stage, "report.txt"),
        media_type="text/plain; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{stage}-report.txt"'},
    )


@router.get("/stages/{stage}/results/report.json")
def report_json(stage: str, services: ServicesDep) -> Response:
    return Response(
        read_published(services, stage, "report.json"),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{stage}-report.json"'},
    )


@router.get("/stages/{stage}/results/chart.png")
def chart(stage: str, services: ServicesDep) -> Response:
    return Response(read_published(services, stage, CHART_FILE), media_type="image/png")


@router.get("/endorsement")
def endorsement(request: Request, services: ServicesDep) -> Response:
    content = published_endorsement(services)
    record = json.loads(content) if content is not None else None
    # Each linked questionnaire's comparison page, by the link's path.
    questionnaires = {
        link.path: key
        for link in (parse_endorsement(content).links if content is not None else ())
        if (key := questionnaire_key(link)) is not None
    }
    return render(
        request,
        "public/endorsement.html",
        {"record": record, "questionnaires": questionnaires},
    )
