from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from app.api.deps import PaymentServiceDep, RegistryDep, SettingsDep
from app.api.params import PaymentIdPath
from app.api.problems import responses
from app.core import errors
from app.core.ids import matches_digest
from app.providers.registry import parse_channel
from app.schemas.payments import PublicConfig, PublicPayment

router = APIRouter(prefix="/v1/public", tags=["public"])


@router.get("/config", response_model=PublicConfig, summary="What a checkout page needs to start")
async def get_public_config(settings: SettingsDep, registry: RegistryDep) -> PublicConfig:
    return PublicConfig(
        publishable_key=settings.stripe_publishable_key,
        enabled_channels=registry.enabled_channels,
        default_channel=parse_channel(settings.default_channel).name,
        livemode=registry.livemode,
    )


@router.get(
    "/payments/{payment_id}",
    response_model=PublicPayment,
    summary="One payment as its checkout page may see it",
    responses=responses(errors.InvalidClientToken),
)
async def get_public_payment(
    payment_id: PaymentIdPath,
    payments: PaymentServiceDep,
    client_token: Annotated[str, Header(alias="X-Client-Token", max_length=128)] = "",
) -> PublicPayment:
    try:
        payment = await payments.get(payment_id)
    except errors.PaymentNotFound:
        # Same answer for an unknown id and a wrong token: ids are not to be probed.
        raise errors.InvalidClientToken() from None
    if not client_token or not matches_digest(client_token, payment.client_token_digests):
        raise errors.InvalidClientToken()
    return PublicPayment.model_validate(payment)
