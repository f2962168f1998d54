"""Every policy of the pack: id, why, source, enforcement level, scope and settings.

The one list both runners read: `policy/__main__.py` turns it into CrossGuard
policies, `gpufleet/policy_runner.py` runs it over the offline preview.
Mandatory policies block `pulumi up` (and fail `gpufleet preview`); advisory
ones are reported and let the deployment proceed.
"""

from __future__ import annotations

from . import autoscaling_rules as scaling
from . import china_rules as cn
from . import cni
from . import cloud_hardening as cloud
from . import credential_rules
from . import moderation_path
from . import observability as obs
from . import residency
from . import workload_hardening as wl
from .model import PolicySpec

_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True}

PIPL = "PIPL (Personal Information Protection Law of the PRC) arts. 38-40"
DSL = "Data Security Law of the PRC art. 31"
CSL_37 = "Cybersecurity Law of the PRC art. 37"
GENAI = "Interim Measures for the Management of Generative Artificial Intelligence Services (CAC et al., 2023)"
ICP = ("Measures for the Administration of Internet Information Services (State Council Order No. 292) art. 4; "
       "Measures for the Filing Administration of Non-commercial Internet Information Services (MIIT Order No. 33)")

POLICIES: tuple[PolicySpec, ...] = (
    # ------------------------------------------------------------------ residency
    PolicySpec(
        id="cn-alicloud-only",
        why="Mainland users' prompts, outputs, logs and weights stay with the one provider and the regions "
            "reviewed for China's data-localisation rules.",
        source=f"{PIPL}; {DSL}; {CSL_37}",
        level="mandatory", scope="resource", validate=residency.cn_alicloud_only,
        config={"allowedPackages": {**_STRINGS, "default": list(residency.CN_DEFAULT_PACKAGES),
                                    "description": "Pulumi packages a cn stack may use"}},
    ),
    PolicySpec(
        id="cn-mainland-locations",
        why="Hong Kong, Macao and Taiwan are outside mainland China; anything of a cn stack stored or served "
            "there has left the country.",
        source=f"{PIPL}; {DSL}; {CSL_37}",
        level="mandatory", scope="resource", validate=residency.cn_mainland_locations,
    ),
    PolicySpec(
        id="cn-no-cross-border-transfer",
        why="An automated copy abroad is an outbound data transfer, which needs a security assessment or a "
            "standard contract before it may happen.",
        source=f"{PIPL}; Measures for the Security Assessment of Outbound Data Transfers (CAC, 2022) art. 4; "
               "Provisions on Promoting and Regulating Cross-Border Data Flows (CAC, 2024)",
        level="mandatory", scope="resource", validate=residency.cn_no_cross_border_transfer,
    ),
    PolicySpec(
        id="global-no-china-locations",
        why="Mainland regions are separate partitions (AWS China is run by Sinnet and NWCD) and bring China's "
            "localisation and export rules with them; mainland users are served by cn stacks.",
        source=f"PIPL art. 3; {DSL}; AWS China regions (https://www.amazonaws.cn/en/about-aws/china/)",
        level="mandatory", scope="resource", validate=residency.global_no_china_locations,
    ),
    PolicySpec(
        id="jurisdiction-tag-matches",
        why="Residency and cost reports group resources by this tag, so a wrong tag hides a resource from the "
            "audit it belongs to.",
        source="gpufleet tagging standard (gpufleet/core/config.py StackConfig.tags)",
        level="mandatory", scope="resource", validate=residency.jurisdiction_tag_matches,
    ),
    PolicySpec(
        id="cn-images-from-acr",
        why="Images mirrored into the stack's ACR are scanned and immutable there, and nodes never depend on a "
            "registry across the border.",
        source="gpufleet residency design (docs/model-server.md, China stacks); Alibaba Cloud Container "
               "Registry Enterprise Edition (https://www.alibabacloud.com/help/en/acr/)",
        level="mandatory", scope="resource", validate=residency.cn_images_from_acr,
        config={"allowedRegistryHosts": {**_STRINGS, "default": [],
                                         "description": "further in-region registry hosts to trust"}},
    ),
    PolicySpec(
        id="cn-weights-in-region",
        why="Foundation models must come from a lawful, traceable source, and no request may leave for Hugging "
            "Face or another cloud's storage.",
        source=f"{GENAI} art. 7(1) (data and foundation models from lawful sources); gpufleet residency design",
        level="mandatory", scope="resource", validate=residency.cn_weights_in_region,
    ),
    # ------------------------------------------------------------------ China service rules
    PolicySpec(
        id="cn-log-retention",
        why="Network operators keep network logs for no less than six months.",
        source="Cybersecurity Law of the PRC art. 21(3)",
        level="mandatory", scope="resource", validate=cn.cn_log_retention,
        config={"minDays": {"type": "integer", "minimum": cn.CN_MIN_LOG_RETENTION_DAYS,
                            "default": cn.CN_MIN_LOG_RETENTION_DAYS, "description": "minimum retention in days"}},
    ),
    PolicySpec(
        id="cn-public-endpoint-filings",
        why="A generative-AI service offered to the public in mainland China needs an ICP filing and a CAC "
            "generative-AI service filing first.",
        source=f"{ICP}; {GENAI} art. 17",
        level="mandatory", scope="stack", validate=cn.cn_public_endpoint_filings,
    ),
    PolicySpec(
        id="cn-content-moderation",
        why="Providers must stop illegal content in what users send and in what the model generates, and may not "
            "send prompts abroad to do it.",
        source=f"{GENAI} arts. 4 and 14; TC260-003 Basic Security Requirements for Generative AI Services (2024)",
        level="mandatory", scope="stack", validate=cn.cn_content_moderation,
    ),
    PolicySpec(
        id="cn-moderation-in-request-path",
        why="A moderation hook that is declared but not wired screens nothing; only a stage every request passes "
            "through stops illegal content, and it must refuse when it cannot decide.",
        source=f"{GENAI} arts. 4 and 14; TC260-003 Basic Security Requirements for Generative AI Services (2024)",
        level="mandatory", scope="stack", validate=moderation_path.cn_moderation_in_request_path,
    ),
    PolicySpec(
        id="cn-undeclared-public-endpoint",
        why="A public endpoint that the stack does not declare escapes the filing and moderation checks.",
        source=f"{ICP}; {GENAI} art. 17",
        level="mandatory", scope="resource", validate=cn.cn_undeclared_public_endpoint,
    ),
    # ------------------------------------------------------------------ cloud hardening
    PolicySpec(
        id="k8s-api-not-public",
        why="An open API server invites credential stuffing and exploits of API-server vulnerabilities.",
        source="AWS Security Hub EKS.1; CIS Amazon EKS Benchmark 5.4.2; Alibaba Cloud ACK: control access to "
               "the API server",
        level="mandatory", scope="resource", validate=cloud.k8s_api_not_public,
        config={"maxPublicShare": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.01,
                                   "description": "largest share of the public IPv4 space the allow-list may cover"}},
    ),
    PolicySpec(
        id="no-plaintext-keys",
        why="A key in a stack file or a resource input is in git, in the state file and in every preview; "
            "anyone who can read the repository can use it.",
        source="CIS AWS Foundations Benchmark 1.x (no access keys in code); Alibaba Cloud AccessKey best practices "
               "(https://www.alibabacloud.com/help/en/ram/user-guide/best-practices-for-using-an-accesskey-pair); "
               "Pulumi secrets (https://www.pulumi.com/docs/iac/concepts/secrets/)",
        level="mandatory", scope="stack", validate=credential_rules.no_plaintext_keys,
    ),
    PolicySpec(
        id="k8s-secrets-kms",
        why="With envelope encryption, a copy of etcd or of its backups reveals no credentials.",
        source="AWS Security Hub EKS.3; CIS Amazon EKS Benchmark 5.3.1; Alibaba Cloud ACK Pro: use KMS to "
               "encrypt Secrets",
        level="mandatory", scope="resource", validate=cloud.k8s_secrets_kms,
    ),
    PolicySpec(
        id="control-plane-logging",
        why="Without these logs an incident on the cluster cannot be reconstructed.",
        source="AWS Security Hub EKS.8; CIS Amazon EKS Benchmark 2.1.1; Alibaba Cloud ACK: collect control "
               "plane component logs",
        level="mandatory", scope="resource", validate=cloud.control_plane_logging,
    ),
    PolicySpec(
        id="k8s-version-in-standard-support",
        why="Out of standard support means no security patches (and, on EKS, extended-support fees); the dates "
            "are in gpufleet/core/catalog/instances.yaml.",
        source="AWS Security Hub EKS.2; Amazon EKS Kubernetes version lifecycle; ACK Kubernetes version "
               "support policy",
        level="mandatory", scope="resource", validate=cloud.k8s_version_in_standard_support,
    ),
    PolicySpec(
        id="k8s-version-support-ending",
        why="An upgrade planned months ahead is cheaper and safer than one forced by the deadline.",
        source="Amazon EKS Kubernetes version lifecycle; ACK Kubernetes version support policy",
        level="advisory", scope="resource", validate=cloud.k8s_version_support_ending,
        config={"warnDays": {"type": "integer", "minimum": 0, "default": 90,
                             "description": "days before the end of standard support to start warning"}},
    ),
    PolicySpec(
        id="imdsv2-required",
        why="An SSRF in a model server cannot then read the node role's credentials from the metadata service.",
        source="AWS Security Hub EC2.8 and AWS Config ec2-launch-template-imdsv2-check; Alibaba Cloud ACK: "
               "access ECS instance metadata in hardened mode only",
        level="mandatory", scope="resource", validate=cloud.imdsv2_required,
    ),
    PolicySpec(
        id="bucket-private",
        why="Licensed model weights must never be readable from the internet.",
        source="AWS Security Hub S3.8; Alibaba Cloud OSS Block Public Access",
        level="mandatory", scope="stack", validate=cloud.bucket_private,
    ),
    PolicySpec(
        id="bucket-versioning",
        why="An overwritten or deleted model can be restored.",
        source="AWS Security Hub S3.14; Alibaba Cloud OSS versioning",
        level="advisory", scope="stack", validate=cloud.bucket_versioning,
    ),
    PolicySpec(
        id="bucket-encrypted",
        why="A key the stack controls (and rotates) decides who can read the objects, not only the provider.",
        source="AWS Security Hub S3.17; Alibaba Cloud OSS server-side encryption with KMS",
        level="mandatory", scope="stack", validate=cloud.bucket_encrypted,
    ),
    PolicySpec(
        id="registry-immutable-tags",
        why="A reviewed tag can never be re-pointed at another image.",
        source="AWS Security Hub ECR.2; Alibaba Cloud ACR Enterprise Edition: image tag immutability",
        level="mandatory", scope="resource", validate=cloud.registry_immutable_tags,
    ),
    PolicySpec(
        id="registry-scan-on-push",
        why="Known vulnerabilities are found before an image is deployed, not after.",
        source="AWS Security Hub ECR.1; Alibaba Cloud ACR Enterprise Edition: security scanning",
        level="mandatory", scope="resource", validate=cloud.registry_scan_on_push,
    ),
    PolicySpec(
        id="kms-rotation",
        why="Rotation limits what one exposed key version can decrypt.",
        source="AWS Security Hub KMS.4; Alibaba Cloud KMS automatic key rotation",
        level="mandatory", scope="resource", validate=cloud.kms_rotation,
    ),
    PolicySpec(
        id="iam-no-wildcard-actions",
        why="A leaked role or key is then worth only what it needs.",
        source="AWS Security Hub IAM.1 and IAM.21; Alibaba Cloud RAM: grant least privilege",
        level="mandatory", scope="resource", validate=cloud.iam_no_wildcard_actions,
    ),
    PolicySpec(
        id="cloud-cost-tags",
        why="The cost reports and the residency audit group resources by these tags.",
        source="AWS cost allocation tags; Alibaba Cloud tag-based cost allocation; gpufleet tagging standard",
        level="advisory", scope="resource", validate=cloud.cloud_cost_tags,
        config={"requiredTags": {**_STRINGS, "default": list(cloud.REQUIRED_TAGS),
                                 "description": "tag keys every taggable resource carries"}},
    ),
    # ------------------------------------------------------------------ workload hardening
    PolicySpec(
        id="pod-security-restricted",
        why="A compromised server cannot run privileged, as root or with host access.",
        source="Kubernetes Pod Security Standards and Pod Security Admission; NSA/CISA Kubernetes Hardening "
               "Guidance v1.2",
        level="mandatory", scope="resource", validate=wl.pod_security_restricted,
    ),
    PolicySpec(
        id="network-default-deny",
        why="What a server may reach is then allowed explicitly, and nothing else.",
        source="Kubernetes NetworkPolicy: default deny all ingress and egress; NSA/CISA Kubernetes Hardening "
               "Guidance v1.2 (network separation)",
        level="mandatory", scope="stack", validate=wl.network_default_deny,
        config={"exemptNamespaces": {**_STRINGS, "default": list(wl.DEFAULT_EXEMPT_NAMESPACES),
                                     "description": "namespaces managed by the platform, not by this stack"}},
    ),
    PolicySpec(
        id="network-policy-enforced",
        why="A default-deny NetworkPolicy is hardening only where the CNI enforces it; Flannel on ACK and the "
            "EKS VPC CNI without enableNetworkPolicy accept every policy and enforce none.",
        source="ACK: use network policies (Terway, shared-ENI mode); Amazon EKS user guide: restrict pod network "
               "traffic with Kubernetes network policies (VPC CNI enableNetworkPolicy)",
        level="mandatory", scope="stack", validate=cni.network_policy_enforced,
    ),
    PolicySpec(
        id="container-resource-limits",
        why="One runaway pod cannot starve a node, and no GPU is taken unaccounted.",
        source="Kubernetes resource management for pods and containers; NVIDIA device plugin (GPUs in limits); "
               "NSA/CISA Kubernetes Hardening Guidance v1.2",
        level="mandatory", scope="resource", validate=wl.container_resource_limits,
    ),
    PolicySpec(
        id="container-probes",
        why="Traffic reaches only loaded models, and a hung server is restarted.",
        source="Kubernetes: configure liveness, readiness and startup probes",
        level="advisory", scope="resource", validate=wl.container_probes,
    ),
    PolicySpec(
        id="pod-disruption-budget",
        why="Node drains and upgrades then take one replica at a time.",
        source="Kubernetes: specifying a disruption budget for your application",
        level="advisory", scope="stack", validate=wl.pod_disruption_budget,
    ),
    PolicySpec(
        id="no-secrets-in-env",
        why="A literal is stored in the workload spec, in Pulumi state and in every `kubectl get -o yaml`.",
        source="CWE-798 (use of hard-coded credentials); Kubernetes: good practices for Secrets",
        level="mandatory", scope="resource", validate=wl.no_secrets_in_env,
        config={"allowNames": {**_STRINGS, "default": [],
                               "description": "env names that look secret but are not"}},
    ),
    PolicySpec(
        id="workload-cost-labels",
        why="GPU cost allocation reads these labels.",
        source="Kubernetes recommended labels; AWS split cost allocation data for EKS; gpufleet labeling "
               "(gpufleet/core/manifests.py common_labels)",
        level="advisory", scope="resource", validate=wl.workload_cost_labels,
        config={"requiredLabels": {**_STRINGS, "default": list(wl.DEFAULT_REQUIRED_LABELS),
                                   "description": "labels every workload and pod template carries"}},
    ),
    # ------------------------------------------------------------------ observability
    PolicySpec(
        id="release-scraped",
        why="A model server nobody scrapes has no SLO alerts, no dashboard and no autoscaling signal.",
        source="Google SRE book, ch. 6 'Monitoring Distributed Systems'; gpufleet observability standard",
        level="mandatory", scope="stack", validate=obs.every_release_scraped,
    ),
    PolicySpec(
        id="prod-slo-alerts",
        why="A prod stack pages on-call when its error or TTFT budget burns, on the numbers the gate judged it by.",
        source="Google SRE workbook, ch. 5 'Alerting on SLOs' (multiwindow, multi-burn-rate alerts)",
        level="mandatory", scope="stack", validate=obs.prod_slo_alerts,
    ),
    PolicySpec(
        id="metrics-in-region",
        why="Metrics carry model names, request rates and labels of the service; a cn stack's stay in "
            "mainland China and every stack's stay in its own region.",
        source=f"{PIPL}; {DSL}; {CSL_37}",
        level="mandatory", scope="resource", validate=obs.metrics_stay_in_region,
    ),
    # ------------------------------------------------------------------ autoscaling
    PolicySpec(
        id="no-prod-spot-only",
        why="Spot GPUs are reclaimed with two minutes' notice and run out together in a stockout; prod serving "
            "keeps an on-demand floor and uses spot only above it.",
        source="AWS EC2 Spot best practices (capacity may be interrupted); Karpenter NodePool weights; "
               "Alibaba Cloud ESS OnDemandBaseCapacity",
        level="mandatory", scope="stack", validate=scaling.no_prod_spot_only,
    ),
    PolicySpec(
        id="karpenter-limits",
        why="Without limits a runaway deployment or a scaling bug buys GPUs without bound.",
        source="Karpenter docs: NodePools, spec.limits",
        level="mandatory", scope="resource", validate=scaling.karpenter_limits,
    ),
    PolicySpec(
        id="autoscaler-fallback",
        why="When Prometheus is unreachable the autoscaler must hold capacity, never act on missing data.",
        source="KEDA docs: ScaledObject spec, fallback",
        level="mandatory", scope="resource", validate=scaling.autoscaler_fallback,
    ),
)

BY_ID = {p.id: p for p in POLICIES}
