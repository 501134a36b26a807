"""Templates: listed, read, previewed with sample data, and written to the templates topic.

A write is checked as a worker checks a record of the topic (herald.templating: structure,
then every field compiled), answered once the broker confirmed it, and applied to this
process's store at once; every other worker, streams and API, has it from the topic within
a poll (herald.template_feed). Reading and previewing need the read scope, writing admin.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request

from api.auth import require
from api.bodies import Problem, answers
from api.keys import ApiKey, Scope
from api.services import Services, services_of
from api.template_bodies import (
    DraftPreviewIn,
    PreviewIn,
    PreviewItem,
    PreviewOut,
    TemplateIn,
    TemplateList,
    TemplateOut,
    TemplateSummary,
)
from herald.templating import (
    TEMPLATE_ID_PATTERN,
    InvalidTemplate,
    Template,
    TemplateError,
    check_definition,
    problems,
)

router = APIRouter(tags=["templates"])
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]
Admin = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
TemplateId = Annotated[str, Path(pattern=TEMPLATE_ID_PATTERN, description="e.g. order_shipped")]
ANSWERS = answers(
    {
        404: {"model": Problem, "description": "No template of this id."},
        409: {"model": Problem, "description": "The stored template does not load: the reason."},
        503: {"model": Problem, "description": "The templates topic is not read yet: retry."},
    }
)
WRITE_ANSWERS = answers(
    {
        422: {"description": "A field is wrong; the answer names it, and the line of a source."},
        503: {"model": Problem, "description": "Kafka cannot be reached: retry."},
    }
)


def _stored(services: Services, template_id: str) -> Template:
    store = services.loaded_templates()
    if template_id not in store.ids():
        raise HTTPException(404, f"no template {template_id!r}")
    try:
        return store.template(template_id)
    except TemplateError as error:
        raise HTTPException(409, error.detail) from error


def _checked(template_id: str, body: TemplateIn) -> Template:
    """The body as a template whose every field compiles, or a 422 naming each problem."""
    try:
        return check_definition(template_id, body.definition())
    except InvalidTemplate as error:
        raise HTTPException(422, [_problem(problem) for problem in error.problems]) from error


def _problem(error: TemplateError) -> dict[str, Any]:
    where = [error.locale, error.channel, error.field]
    located = ["locales", *(str(part) for part in where if part is not None)]
    return {
        "loc": ["body", *(located if error.locale is not None else [])],
        "msg": error.detail,
        "type": "template_error",
    }


@router.get("/v1/templates", response_model=TemplateList, responses=ANSWERS)
def list_templates(request: Request, key: Reader) -> TemplateList:
    """Every template: the topic's, and the installed files the topic does not replace."""
    store = services_of(request).loaded_templates()
    summaries = []
    for template_id in store.ids():
        try:
            template = store.template(template_id)
        except TemplateError as error:
            summary = TemplateSummary(
                template_id=template_id,
                origin=None,
                updated_at=None,
                channels=[],
                locales=[],
                problem=error.detail,
            )
        else:
            found = problems(template)
            summary = TemplateSummary(
                template_id=template_id,
                origin=template.origin,
                updated_at=template.updated_at,
                channels=list(template.channels),
                locales=list(template.locales),
                problem=found[0].detail if found else None,
            )
        summaries.append(summary)
    return TemplateList(templates=summaries)


@router.get("/v1/templates/{template_id}", response_model=TemplateOut, responses=ANSWERS)
def get_template(request: Request, template_id: TemplateId, key: Reader) -> TemplateOut:
    """One template, as it renders now."""
    return TemplateOut.of(_stored(services_of(request), template_id))


@router.put("/v1/templates/{template_id}", response_model=TemplateOut, responses=WRITE_ANSWERS)
async def put_template(
    request: Request, template_id: TemplateId, body: TemplateIn, key: Admin
) -> TemplateOut:
    """Create or replace a template; every worker renders it from its next request on."""
    services = services_of(request)
    services.loaded_templates()  # a store still behind the topic would answer an older one
    template = _checked(template_id, body)
    record = template.record()
    await services.publisher.publish_template(record)
    services.templates.apply(template_id, record)
    services.metrics.templates.inc()
    return TemplateOut.of(services.templates.template(template_id))


@router.post(
    "/v1/templates/{template_id}/preview",
    response_model=PreviewOut,
    responses=ANSWERS,
)
def preview_template(
    request: Request, template_id: TemplateId, body: PreviewIn, key: Reader
) -> PreviewOut:
    """Each channel of a template rendered with ``data`` in each locale asked for."""
    services = services_of(request)
    previews = services.templates.preview(_stored(services, template_id), body.data, body.locales)
    return PreviewOut(template_id=template_id, previews=[PreviewItem.of(p) for p in previews])


@router.post("/v1/templates/preview", response_model=PreviewOut, responses=WRITE_ANSWERS)
def preview_draft(request: Request, body: DraftPreviewIn, key: Reader) -> PreviewOut:
    """A template not saved yet, checked as a write is, rendered as a stored one is."""
    services = services_of(request)
    draft = _checked("draft", body.template)
    previews = services.templates.preview(draft, body.data, body.locales)
    return PreviewOut(template_id=None, previews=[PreviewItem.of(p) for p in previews])
