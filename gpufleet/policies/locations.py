"""Where a resource lives or sends data: region and zone ids found in its inputs.

Residency rules ask one question of every location a resource mentions: is it
in mainland China? Locations show up as region/zone fields (`zoneId`,
`availabilityZone`, `destinationRegionId`), inside Alibaba Cloud and AWS host
names (`oss-cn-hangzhou-internal.aliyuncs.com`, `s3.us-east-1.amazonaws.com`),
in ARNs (`acs:kms:cn-hangzhou:...`, `arn:aws-cn:...`) and in OSS locations
(`oss-ap-southeast-1`). Region facts come from the instance catalog first, then
from the public region lists below for regions the catalog does not carry.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Mapping

from gpufleet.core.catalog import load_instance_catalog

from .props import Path, last_key, walk_strings

# Alibaba Cloud regions (https://www.alibabacloud.com/help/en/ecs/user-guide/regions-and-zones)
# and AWS regions (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html);
# True = mainland China. Hong Kong, Macao and Taiwan are not mainland China under PIPL/DSL.
_PUBLIC_REGIONS: dict[str, bool] = {
    # Alibaba Cloud, mainland China (incl. finance and government clouds)
    **{r: True for r in (
        "cn-qingdao", "cn-beijing", "cn-zhangjiakou", "cn-huhehaote", "cn-wulanchabu", "cn-hangzhou",
        "cn-shanghai", "cn-nanjing", "cn-fuzhou", "cn-wuhan-lr", "cn-shenzhen", "cn-heyuan", "cn-guangzhou",
        "cn-chengdu", "cn-hangzhou-finance", "cn-shanghai-finance-1", "cn-shenzhen-finance-1",
        "cn-beijing-finance-1", "cn-north-2-gov-1",
    )},
    # Alibaba Cloud, outside mainland China
    **{r: False for r in (
        "cn-hongkong", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-3", "ap-southeast-5",
        "ap-southeast-6", "ap-southeast-7", "us-east-1", "us-west-1", "eu-west-1", "eu-central-1", "me-east-1",
        "me-central-1", "na-south-1",
    )},
    # AWS China (operated by Sinnet and NWCD): mainland China
    "cn-north-1": True,
    "cn-northwest-1": True,
    # AWS, outside mainland China
    **{r: False for r in (
        "us-east-2", "us-west-2", "af-south-1", "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
        "ap-southeast-2", "ap-southeast-4", "ap-northeast-3", "ca-central-1", "ca-west-1", "eu-central-2",
        "eu-west-2", "eu-west-3", "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1",
        "mx-central-1", "sa-east-1", "us-gov-east-1", "us-gov-west-1",
    )},
}

# Input keys (lower-cased) whose value names a region or zone.
_LOCATION_KEYS = frozenset({
    "region", "regionid", "zone", "zoneid", "zoneids", "availabilityzone", "availabilityzones",
    "masterzoneid", "slavezoneid", "secondaryzoneid", "location", "targetregionid",
    "destinationregionid", "destinationregion", "sourceregionid", "childinstanceregionid",
})
_LOCATION_SUFFIXES = ("regionid", "zoneid", "zoneids", "region")
_HOST = re.compile(r"(?:[a-z0-9-]+\.)+(?:aliyuncs\.com|aliyun\.com|amazonaws\.com(?:\.cn)?)")
_SERVICE_NAME = re.compile(r"\b(?:cn\.)?com\.amazonaws\.([a-z0-9-]+)\.")
_ARN = re.compile(r"^(?:acs|arn:aws(?:-cn|-us-gov)?):[^:]*:([^:]*):")
_LABEL_PREFIXES = ("oss-", "sts-", "ecs-", "log-")
_LABEL_SUFFIXES = ("-internal", "-vpc", "-intranet")


@lru_cache(maxsize=1)
def regions() -> Mapping[str, bool]:
    """region id -> mainland China; the catalog's facts win over the public lists."""
    table = dict(_PUBLIC_REGIONS)
    for cloud in load_instance_catalog().clouds.values():
        for name, facts in cloud.regions.items():
            table[name] = facts.mainland_china
    return table


def is_mainland(region: str) -> bool | None:
    """True/False for a known region id, None for an id nobody has heard of."""
    return regions().get(region)


def region_of(identifier: str) -> str | None:
    """The region of a region id, zone id ('cn-hangzhou-h', 'us-east-1a') or OSS location ('oss-cn-beijing')."""
    text = identifier.strip().lower()
    for candidate in _candidates(text):
        if candidate in regions():
            return candidate
        # zones: '<region>-<letter>' (Alibaba) or '<region><letter>' (AWS, Alibaba overseas)
        if len(candidate) > 2 and candidate[-1].isalpha():
            for cut in (candidate[:-2] if candidate[-2] == "-" else None, candidate[:-1]):
                if cut and cut in regions():
                    return cut
    return None


def _candidates(label: str) -> Iterable[str]:
    yield label
    for prefix in _LABEL_PREFIXES:
        if label.startswith(prefix):
            stripped = label[len(prefix):]
            yield stripped
            for suffix in _LABEL_SUFFIXES:
                if stripped.endswith(suffix):
                    yield stripped[: -len(suffix)]
    for suffix in _LABEL_SUFFIXES:
        if label.endswith(suffix):
            yield label[: -len(suffix)]


def host_regions(text: str) -> list[str]:
    """Regions named by Alibaba Cloud / AWS host names (and AWS service names) inside `text`."""
    found: list[str] = []
    lowered = text.lower()
    for match in _HOST.finditer(lowered):
        for label in match.group(0).split("."):
            if label in regions():
                found.append(label)
                continue
            for candidate in _candidates(label):
                if candidate != label and candidate in regions():
                    found.append(candidate)
                    break
    found.extend(m.group(1) for m in _SERVICE_NAME.finditer(lowered) if m.group(1) in regions())
    return found


def arn_region(text: str) -> str | None:
    """The region field of an Alibaba (acs:) or AWS (arn:) resource name, when it names one."""
    match = _ARN.match(text.strip())
    if not match:
        return None
    return match.group(1) if match.group(1) in regions() else None


def is_location_key(key: str) -> bool:
    k = key.lower()
    return k in _LOCATION_KEYS or k.endswith(_LOCATION_SUFFIXES) or k.endswith("availabilityzones")


def find_locations(props: Mapping[str, Any]) -> list[tuple[Path, str, str]]:
    """(path, text, region) for every location the inputs mention."""
    found: list[tuple[Path, str, str]] = []
    for path, text in walk_strings(props):
        seen: set[str] = set()
        if is_location_key(last_key(path)):
            region = region_of(text)
            if region:
                seen.add(region)
        arn = arn_region(text)
        if arn:
            seen.add(arn)
        seen.update(host_regions(text))
        found.extend((path, text, region) for region in sorted(seen))
    return found
