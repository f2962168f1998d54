"""ACR Enterprise for a China stack: instance, namespace, one repository per pulled image, VPC link.

Every repository names its namespace only by string, so each depends on the
namespace explicitly (otherwise the two are created in parallel: a race). ACR
Enterprise is bought as a prepaid subscription (the provider's `payment_type`
accepts only `Subscription`): `pulumi destroy` deletes the instance but does
not refund the term, so the preview and the cost output say so.
"""

from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud

from gpufleet.core import naming
from gpufleet.core.config import StackConfig
from gpufleet.core.registry_billing import ACR_EDITION, ACR_PAYMENT, ACR_PERIOD_MONTHS, registry_billing
from gpufleet.infra.components.registries import acr_repositories
from gpufleet.core.artifacts import namespaced_repositories

ACR_NAMESPACE = "gpufleet"


def acr_billing_facts() -> dict[str, object]:
    """What the preview and the cost output show about the registry's billing."""
    return registry_billing("alicloud")


class AcrRegistry(pulumi.ComponentResource):
    """The stack's ACR Enterprise instance with every repository the workloads phase pulls from."""

    def __init__(self, name: str, cfg: StackConfig, vpc_id: pulumi.Input[str], vswitch_id: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpufleet:alicloud:AcrRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.instance = alicloud.cr.RegistryEnterpriseInstance(
            f"{name}-acr", instance_name=naming.acr_instance_name(cfg.stack), instance_type=ACR_EDITION,
            payment_type=ACR_PAYMENT, period=ACR_PERIOD_MONTHS, renewal_status="AutoRenewal", renew_period=12,
            image_scanner="ACR", tags=cfg.tags, opts=child)
        self.namespace = alicloud.cs.RegistryEnterpriseNamespace(
            f"{name}-acr-ns", instance_id=self.instance.id, name=ACR_NAMESPACE, auto_create=False,
            default_visibility="PRIVATE", opts=child)
        self.namespaces = {ACR_NAMESPACE: self.namespace}
        for extra in namespaced_repositories(cfg):  # charts whose name is also an image's
            self.namespaces[extra] = alicloud.cs.RegistryEnterpriseNamespace(
                f"{name}-acr-ns-{extra}", instance_id=self.instance.id, name=extra, auto_create=False,
                default_visibility="PRIVATE", opts=child)
        wanted = [(ACR_NAMESPACE, repo) for repo in acr_repositories(cfg)] + [
            (ns, repo) for ns, repos in namespaced_repositories(cfg).items() for repo in repos]
        self.repositories = {
            (ns, repo): alicloud.cs.RegistryEnterpriseRepo(
                f"{name}-acr-{repo}" if ns == ACR_NAMESPACE else f"{name}-acr-{ns}-{repo}",
                instance_id=self.instance.id, namespace=ns, name=repo,
                repo_type="PRIVATE", summary=f"{repo}, mirrored in-region by `gpufleet mirror`",
                tag_immutability=True,
                # linked to its namespace only by name: without this the two are created in parallel
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.namespaces[ns]]))
            for ns, repo in wanted}
        self.vpc_link = alicloud.cr.VpcEndpointLinkedVpc(
            f"{name}-acr-vpc", instance_id=self.instance.id, vpc_id=vpc_id, vswitch_id=vswitch_id,
            module_name="Registry", enable_create_dns_record_in_pvzt=True, opts=child)
        self.registry_url = pulumi.Output.from_input(f"{naming.acr_vpc_host(cfg.stack, cfg.region)}/{ACR_NAMESPACE}")
        self.register_outputs({"instance_id": self.instance.id, "registry_url": self.registry_url})
