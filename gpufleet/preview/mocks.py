"""The one place that answers for the clouds when no cloud is there.

`new_resource` echoes inputs and adds the computed outputs later code reads
(ARNs, endpoints, OIDC issuers ...); `call` answers data sources with plausible,
deterministic values. An invoke nobody answered fails loudly so a new data
source cannot slip into the program unmocked.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pulumi

AWS_ACCOUNT = "123456789012"
ALICLOUD_ACCOUNT = "1234567890123456"
FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIOFFLINEPREVIEW\n-----END CERTIFICATE-----\n").decode()


def ack_offered_versions(args: dict[str, Any]) -> dict[str, Any]:
    """DescribeKubernetesVersionMetadata as the catalog records it (gpufleet/core/catalog/ack_versions.yaml)."""
    from gpufleet.core.catalog_ack import offered_ack_versions

    versions = offered_ack_versions()
    wanted = args.get("kubernetesVersion")
    metadatas = [{"version": v, "runtimes": [{"name": "containerd", "version": "1.6.36"}]}
                 for v in versions if not wanted or v == wanted]
    return {"clusterType": args.get("clusterType", "ManagedKubernetes"), "profile": args.get("profile", "Default"),
            "kubernetesVersion": wanted or "", "metadatas": metadatas, "id": "ack-versions"}


def _has_unknown(value: Any) -> bool:
    from gpufleet.infra.sdk_internals import is_unknown

    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_unknown(v) for v in value)
    return is_unknown(value)


class UnmockedDataSource(LookupError):
    """The program called a data source the offline engine cannot answer."""


def _short_hash(*parts: str, n: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


@dataclass
class Registration:
    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool


@dataclass
class FleetMocks(pulumi.runtime.Mocks):
    stack: str
    region: str
    registrations: list[Registration] = field(default_factory=list)
    # The platform phase's outputs: what the workloads phase's StackReference reads.
    platform_outputs: dict[str, Any] = field(default_factory=dict)
    platform_secrets: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every data source asked, in order

    # ------------------------------------------------------------ resources
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs), args.custom))
        if args.typ == "pulumi:pulumi:StackReference":
            return self._stack_reference(args)
        rid = f"{args.name}-{_short_hash(self.stack, args.typ, args.name)}"
        state = dict(args.inputs)
        state.update(self._computed(args.typ, args.name, rid, state))
        return rid, state

    def _stack_reference(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        """Answer a read of the platform stack with the platform phase's outputs; no platform preview, no answer."""
        name = args.resource_id or str(args.inputs.get("name", ""))
        if not self.platform_outputs:
            raise UnmockedDataSource(f"offline preview has no outputs for stack reference {name!r}: "
                                     "preview the platform phase first")
        unknown = sorted(k for k, v in self.platform_outputs.items() if _has_unknown(v))
        if unknown:  # a real platform stack's outputs are all known after `pulumi up`
            raise UnmockedDataSource(f"platform outputs {', '.join(unknown)} are unknown in the offline preview; "
                                     "compute them in FleetMocks._computed (gpufleet/preview/mocks.py)")
        return name, {"name": name, "outputs": dict(self.platform_outputs),
                      "secretOutputNames": list(self.platform_secrets)}

    def _computed(self, typ: str, name: str, rid: str, inputs: dict[str, Any]) -> dict[str, Any]:
        region, h = self.region, _short_hash(self.stack, name)
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            out: dict[str, Any] = {"arn": f"arn:aws:{service}:{region}:{AWS_ACCOUNT}:{name}", "tagsAll": inputs.get("tags", {})}
            if typ == "aws:eks/cluster:Cluster":
                issuer_id = _short_hash(self.stack, "oidc", n=32).upper()
                out.update(
                    endpoint=f"https://{issuer_id}.gr7.{region}.eks.amazonaws.com",
                    certificateAuthority={"data": FAKE_CA},
                    identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{issuer_id}"}]}],
                    arn=f"arn:aws:eks:{region}:{AWS_ACCOUNT}:cluster/{inputs.get('name', name)}",
                    status="ACTIVE",
                )
            elif typ == "aws:s3/bucket:Bucket":
                bucket = f"{inputs.get('bucketPrefix', name + '-')}{h}"
                out.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com")
            elif typ == "aws:kms/key:Key":
                key_id = f"{h}-0000-4000-8000-{_short_hash(name, n=12)}"
                out.update(keyId=key_id, arn=f"arn:aws:kms:{region}:{AWS_ACCOUNT}:key/{key_id}")
            elif typ == "aws:ecr/repository:Repository":
                out.update(repositoryUrl=f"{AWS_ACCOUNT}.dkr.ecr.{region}.amazonaws.com/{inputs.get('name', name)}",
                           registryId=AWS_ACCOUNT)
            elif typ == "aws:iam/role:Role":
                out.update(arn=f"arn:aws:iam::{AWS_ACCOUNT}:role/{rid}", name=rid)
            elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
                host = str(inputs.get("url", "")).removeprefix("https://")
                out.update(arn=f"arn:aws:iam::{AWS_ACCOUNT}:oidc-provider/{host}")
            elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
                out.update(latestVersion=1, defaultVersion=1)
            elif typ == "aws:sqs/queue:Queue":
                queue = inputs.get("name") or f"{name}-{h}"
                out.update(name=queue, url=f"https://sqs.{region}.amazonaws.com/{AWS_ACCOUNT}/{queue}",
                           arn=f"arn:aws:sqs:{region}:{AWS_ACCOUNT}:{queue}")
            elif typ == "aws:ec2/eip:Eip":
                out.update(publicIp=f"198.51.100.{int(h[:2], 16) % 250 + 1}", allocationId=f"eipalloc-{h}")
            return out
        if typ.startswith("alicloud:"):
            out = {}
            if typ == "alicloud:cs/managedKubernetes:ManagedKubernetes":
                cid = f"c{_short_hash(self.stack, 'ack', n=32)}"
                out.update(rrsaMetadata={
                    "enabled": True,
                    "ramOidcProviderName": f"ack-rrsa-{cid}",
                    "ramOidcProviderArn": f"acs:ram::{ALICLOUD_ACCOUNT}:oidc-provider/ack-rrsa-{cid}",
                    "rrsaOidcIssuerUrl": f"https://oidc-ack-{region}.oss-{region}.aliyuncs.com/{cid}",
                }, slbIntranet=f"lb-{h}", connections=[{
                    "apiServerIntranet": f"https://{cid}.{region}.intranet.cs.aliyuncs.com:6443"}])
            elif typ == "alicloud:vpc/natGateway:NatGateway":
                out.update(snatTableIds=f"stb-{h}", forwardTableIds=f"ftb-{h}")
            elif typ == "alicloud:ecs/eipAddress:EipAddress":
                out.update(ipAddress=f"203.0.113.{int(h[:2], 16) % 250 + 1}")
            elif typ == "alicloud:kms/key:Key":
                out.update(arn=f"acs:kms:{region}:{ALICLOUD_ACCOUNT}:key/key-{h}")
            elif typ == "alicloud:ram/role:Role":
                out.update(arn=f"acs:ram::{ALICLOUD_ACCOUNT}:role/{inputs.get('roleName', name)}")
            return out
        return {}

    # ------------------------------------------------------------ data sources
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list] | dict:
        token = args.token
        self.calls.append((token, dict(args.args)))
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": AWS_ACCOUNT, "arn": f"arn:aws:iam::{AWS_ACCOUNT}:user/offline-preview",
                    "userId": "AIDAOFFLINEPREVIEW", "id": AWS_ACCOUNT}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "endpoint": f"ec2.{self.region}.amazonaws.com", "id": self.region}
        if token == "aws:route53/getZone:getZone":
            name = str(args.args.get("name", "")).rstrip(".")
            zone_id = "Z" + _short_hash(name, n=20).upper()
            return {"zoneId": zone_id, "id": zone_id, "name": name, "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
                    "privateZone": bool(args.args.get("privateZone", False)), "resourceRecordSetCount": 12,
                    "nameServers": [f"ns-{i}.awsdns-{i:02d}.com" for i in (101, 202, 303, 404)],
                    "callerReference": f"gpufleet-{name}", "comment": "", "linkedServiceDescription": "",
                    "linkedServicePrincipal": "", "primaryNameServer": "ns-101.awsdns-101.com", "tags": {}}
        if token == "alicloud:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ALICLOUD_ACCOUNT, "arn": f"acs:ram::{ALICLOUD_ACCOUNT}:root",
                    "identityType": "Account", "id": ALICLOUD_ACCOUNT}
        if token == "alicloud:cs/getKubernetesVersion:getKubernetesVersion":
            return ack_offered_versions(args.args)
        if token == "alicloud:cs/getClusterCredential:getClusterCredential":
            cluster_id = args.args.get("clusterId", "")
            kubeconfig = (
                "apiVersion: v1\nkind: Config\nclusters:\n- name: ack\n  cluster:\n"
                f"    server: https://{cluster_id}.{self.region}.intranet.cs.aliyuncs.com:6443\n"
                f"    certificate-authority-data: {FAKE_CA}\n"
                "contexts:\n- name: ack\n  context: {cluster: ack, user: ack}\ncurrent-context: ack\n"
                "users:\n- name: ack\n  user: {client-certificate-data: OFFLINE, client-key-data: OFFLINE}\n"
            )
            return {"clusterId": cluster_id, "clusterName": "ack", "kubeConfig": kubeconfig,
                    "certificateAuthority": {"clusterCert": FAKE_CA}, "expiration": "2099-01-01T00:00:00Z",
                    "id": cluster_id}
        raise UnmockedDataSource(f"offline preview has no mock answer for data source {token!r}; add one in gpufleet/preview/mocks.py")
