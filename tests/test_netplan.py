import pytest

from gpufleet.core.netplan import plan_subnets, private_network


def test_three_zones_in_a_slash_16():
    private, public = plan_subnets("10.30.0.0/16", 3)
    assert private == ["10.30.0.0/18", "10.30.64.0/18", "10.30.128.0/18"]
    assert public == ["10.30.192.0/20", "10.30.208.0/20", "10.30.224.0/20"]


def test_two_zones_use_the_last_quarter_for_public_subnets():
    private, public = plan_subnets("10.32.0.0/16", 2)
    assert private == ["10.32.0.0/18", "10.32.64.0/18"]
    assert public == ["10.32.192.0/19", "10.32.224.0/19"]


def test_four_zones_cut_eighths():
    private, public = plan_subnets("10.0.0.0/16", 4)
    assert private[-1] == "10.0.96.0/19"
    assert public == ["10.0.224.0/21", "10.0.232.0/21", "10.0.240.0/21", "10.0.248.0/21"]


def test_subnets_never_overlap():
    import ipaddress
    private, public = plan_subnets("10.0.0.0/16", 3)
    nets = [ipaddress.ip_network(n) for n in private + public]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])


def test_too_small_vpc():
    with pytest.raises(ValueError, match=r"^10.0.0.0/24 is too small for 3 zones \(private subnets would be /26; use a /22 or larger\)$"):
        plan_subnets("10.0.0.0/24", 3)


@pytest.mark.parametrize("cidr", ["10.1.0.0/16", "172.16.0.0/12", "192.168.4.0/22", "100.64.0.0/16"])
def test_private_ranges(cidr):
    assert str(private_network(cidr)) == cidr


def test_public_range_rejected():
    with pytest.raises(ValueError, match=r"^8.8.0.0/16 is not a private range"):
        private_network("8.8.0.0/16")
