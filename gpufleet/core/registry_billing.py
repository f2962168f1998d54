"""How each cloud's registry is bought, for the preview, the cost report and the program alike.

ACR Enterprise is bought as a prepaid subscription (the Pulumi provider's
`payment_type` accepts only `Subscription`): `pulumi destroy` deletes the
instance but does not refund the term. ECR is pay-as-you-go. The cost engine
does not price the registry (see docs/cost.md); this says how it is billed.
"""

from __future__ import annotations

ACR_EDITION = "Standard"
ACR_PAYMENT = "Subscription"
ACR_PERIOD_MONTHS = 12
ACR_REFUND_WARNING = (
    "ACR Enterprise is a prepaid subscription (12 months, auto-renew): `pulumi destroy` deletes the instance "
    "but does not refund the term; turn auto-renew off in the console before destroying a stack for good"
)


ACR_BILLING: dict[str, object] = {
    "service": "ACR Enterprise", "edition": ACR_EDITION, "billing": "subscription (prepaid)",
    "periodMonths": ACR_PERIOD_MONTHS, "autoRenew": True, "refundable": False,
    "payAsYouGo": "not offered for ACR Enterprise (the provider's payment_type accepts only Subscription)",
    "warning": ACR_REFUND_WARNING}
ECR_BILLING: dict[str, object] = {
    "service": "Amazon ECR (private)", "edition": "standard", "billing": "pay-as-you-go", "refundable": True,
    "warning": ""}


def registry_billing(cloud: str) -> dict[str, object]:
    """The stack's cloud says how its registry is bought (gpufleet.core.clouds)."""
    from gpufleet.core import clouds

    return clouds.get(cloud).registry_billing()
