"""Order-status routes: by id, by number, and the customer-facing lookup."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field, model_validator

from wismo.services.status import OrderStatusAnswer
from wismo.web.deps import Reader, WismoDep, json_response

router = APIRouter(tags=["status"])
ANSWER_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The order-status answer"},
    404: {"description": "No such order in this key's store"},
}


class LookupRequest(BaseModel):
    """Order number plus one contact that must match the order."""

    order_number: str = Field(min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    postal_code: str | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _one_contact(self) -> LookupRequest:
        if not (self.email or self.phone or self.postal_code):
            raise ValueError("give email, phone or postal_code")
        return self


def answer_json(answer: OrderStatusAnswer) -> dict[str, Any]:
    return dataclasses.asdict(answer)


@router.get(
    "/v1/orders/{order_id}/status",
    summary="The order-status answer for an order id",
    responses=ANSWER_DOC,
)
def order_status(order_id: int, p: Reader, w: WismoDep) -> Response:
    answer = w.status.by_id(p.store_id, order_id)
    if answer is None:
        raise HTTPException(404, "no such order")
    return json_response(answer_json(answer))


@router.get(
    "/v1/orders/by-number/{order_number}/status",
    summary="The order-status answer for an order number (trusted callers)",
    responses=ANSWER_DOC,
)
def order_status_by_number(order_number: str, p: Reader, w: WismoDep) -> Response:
    answer = w.status.by_number(p.store_id, order_number)
    if answer is None:
        raise HTTPException(404, "no such order")
    return json_response(answer_json(answer))


@router.post(
    "/v1/orders/lookup",
    summary="Order number plus email, phone or postal code (customer-facing lookups)",
    responses={
        200: {"description": "The order-status answer"},
        404: {"description": "No order matches (unknown order and wrong contact alike)"},
    },
)
def lookup(body: LookupRequest, p: Reader, w: WismoDep) -> Response:
    answer = w.status.lookup(
        p.store_id,
        body.order_number,
        email=body.email,
        phone=body.phone,
        postal_code=body.postal_code,
    )
    if answer is None:
        raise HTTPException(404, "no order matches these details")
    return json_response(answer_json(answer))
