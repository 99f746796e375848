using System.Net;

namespace MiniDocker.Network.Tests;

/// <summary>IPv6 subnets, address parsing, IPv6 IPAM and dual-stack network records.</summary>
public sealed class Ipv6Tests : IDisposable
{
    private readonly TempStateRoot _root = new();
    private readonly Ipam _ipam;
    private readonly NetworkStore _store;
    private static readonly IReadOnlyList<(IPAddress, int)> NoRoutes = [];

    public Ipv6Tests()
    {
        _ipam = new Ipam(_root.Path);
        _store = new NetworkStore(_root.Path);
    }

    public void Dispose() => _root.Dispose();

    [Theory]
    [InlineData("fd00:1::/64", "fd00:1::/64")]
    [InlineData("FD00:0001:0000::/48", "fd00:1::/48")]
    [InlineData("2001:db8::/32", "2001:db8::/32")]
    public void Subnet6_parses_and_normalises(string text, string expected) =>
        Assert.Equal(expected, Subnet6.Parse(text).ToString());

    [Theory]
    [InlineData("fd00:1::5/64", "host bits are set, did you mean fd00:1::/64?")]
    [InlineData("fd00:1::", "expected CIDR form")]
    [InlineData("fd00:1::/129", "prefix '129' must be a number 0-128")]
    [InlineData("fd00:1::/-1", "must be a number 0-128")]
    [InlineData("10.0.0.0/8", "not an IPv6 address")]
    [InlineData("fe80::%eth0/64", "is not an IP address")]
    [InlineData("fd00:zz::/64", "is not an IP address")]
    public void Subnet6_refuses_bad_text(string text, string message) =>
        Assert.Contains(message, Assert.Throws<NetworkException>(() => Subnet6.Parse(text)).Message);

    [Fact]
    public void Subnet6_contains_and_overlaps()
    {
        var a = Subnet6.Parse("fd00:1::/64");
        Assert.True(a.Contains(IPAddress.Parse("fd00:1::ffff:1")));
        Assert.False(a.Contains(IPAddress.Parse("fd00:2::1")));
        Assert.False(a.Contains(IPAddress.Parse("10.0.0.1")));
        Assert.True(a.Overlaps(Subnet6.Parse("fd00::/16")));
        Assert.False(a.Overlaps(Subnet6.Parse("fd00::/48")));
        Assert.False(a.Overlaps(Subnet6.Parse("fd00:2::/64")));
        Assert.Equal("fd00:1::1", a.FirstHost.ToString());
        Assert.Equal(5, a.OffsetOf(IPAddress.Parse("fd00:1::5")));
    }

    [Theory]
    [InlineData("fd00::1", null)]
    [InlineData("10.0.0.1", "not an IPv6 address")]
    [InlineData("fe80::1%eth0", "not an IPv6 address")]
    [InlineData("::ffff:10.0.0.1", "IPv4-mapped")]
    [InlineData("nonsense", "not an IPv6 address")]
    public void Ipv6_addresses_are_parsed_strictly(string text, string? error)
    {
        if (error is null) Assert.Equal(text, Ipv6.Parse(text, "IPv6 address").ToString());
        else Assert.Contains(error, Assert.Throws<NetworkException>(() => Ipv6.Parse(text, "IPv6 address")).Message);
    }

    [Fact]
    public void Ipam6_hands_out_sequential_addresses_skipping_gateway_and_taken_ones_and_frees_them()
    {
        var subnet = Subnet6.Parse("fd00:1::/64");
        var gateway = subnet.FirstHost;
        Assert.Equal("fd00:1::3", _ipam.Allocate6("n", subnet, gateway, "c0", IPAddress.Parse("fd00:1::3"), out bool isNew).ToString());
        Assert.True(isNew);
        var given = Enumerable.Range(1, 3).Select(i => _ipam.Allocate6("n", subnet, gateway, $"c{i}", null, out _).ToString()).ToList();
        Assert.Equal(["fd00:1::2", "fd00:1::4", "fd00:1::5"], given);
        // An owner gets its own address back, not a second one.
        Assert.Equal("fd00:1::2", _ipam.Allocate6("n", subnet, gateway, "c1", null, out isNew).ToString());
        Assert.False(isNew);
        Assert.Contains(IPAddress.Parse("fd00:1::4"), _ipam.Allocations("n").Keys);
        _ipam.Release("n", "c2");
        Assert.DoesNotContain(IPAddress.Parse("fd00:1::4"), _ipam.Allocations("n").Keys);
        _ipam.DeleteNetwork("n");
        Assert.Empty(_ipam.Allocations("n"));
    }

    [Theory]
    [InlineData("fd00:2::5", "outside subnet fd00:1::/64")]
    [InlineData("fd00:1::", "subnet-router anycast")]
    [InlineData("fd00:1::1", "is the gateway")]
    public void Ipam6_refuses_requested_addresses_it_cannot_give(string requested, string message)
    {
        var subnet = Subnet6.Parse("fd00:1::/64");
        var e = Assert.Throws<NetworkException>(() => _ipam.Allocate6("n", subnet, subnet.FirstHost, "c0", IPAddress.Parse(requested), out _));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Ipam6_refuses_an_address_in_use()
    {
        var subnet = Subnet6.Parse("fd00:1::/64");
        _ipam.Allocate6("n", subnet, subnet.FirstHost, "c0", IPAddress.Parse("fd00:1::9"), out _);
        var e = Assert.Throws<NetworkException>(() => _ipam.Allocate6("n", subnet, subnet.FirstHost, "c1", IPAddress.Parse("fd00:1::9"), out _));
        Assert.Equal("address fd00:1::9 is already in use in network n", e.Message);
    }

    [Fact]
    public void A_dual_stack_network_is_recorded_with_both_families()
    {
        var created = _store.Create("d", "10.20.0.0/24", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: "fd00:1::/64"));
        var reread = new NetworkStore(_root.Path).Get("d");
        Assert.True(reread.EnableIPv6);
        Assert.Equal("fd00:1::/64", reread.Subnet6.ToString());
        Assert.Equal("fd00:1::1", reread.Gateway6!.ToString());
        Assert.Equal(created, reread with { Options = created.Options });
    }

    [Fact]
    public void An_ipv6_only_request_gets_an_ipv4_subnet_from_the_pool()
    {
        var created = _store.Create("d", "", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: "fd00:1::/64", Gateway6: "fd00:1::fe"));
        Assert.Equal("172.18.0.0/16", created.Subnet.ToString());
        Assert.Equal("fd00:1::fe", created.Gateway6!.ToString());
    }

    [Theory]
    [InlineData("fd00:1::/80", null, "prefix must be at most /64")]
    [InlineData("fd00:1::/64", "fd00:2::1", "IPv6 gateway fd00:2::1 is outside subnet fd00:1::/64")]
    [InlineData("fd00:1::/64", "fd00:1::", "subnet-router anycast")]
    [InlineData("fd00:1::/64", "10.20.0.1", "not an IPv6 address")]
    [InlineData("::/64", null, "unspecified, loopback and IPv4-mapped")]
    [InlineData("fe80::/64", null, "link-local")]
    [InlineData("ff02::/64", null, "multicast")]
    [InlineData(null, null, "--ipv6 needs an IPv6 --subnet")]
    public void Bad_ipv6_network_requests_are_refused_and_nothing_is_written(string? subnet6, string? gateway6, string message)
    {
        var e = Assert.Throws<NetworkException>(() =>
            _store.Create("d", "10.20.0.0/24", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: subnet6, Gateway6: gateway6)));
        Assert.Contains(message, e.Message);
        Assert.Empty(_store.List());
    }

    [Fact]
    public void An_ipv6_subnet_without_ipv6_is_refused()
    {
        var e = Assert.Throws<NetworkException>(() => _store.Create("d", "10.20.0.0/24", null, NoRoutes, spec: new NetworkSpec(Subnet6: "fd00:1::/64")));
        Assert.Contains("without --ipv6", e.Message);
    }

    [Fact]
    public void Overlapping_ipv6_subnets_and_host_routes_are_refused()
    {
        _store.Create("a", "10.20.0.0/24", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: "fd00:1::/64"));
        var e = Assert.Throws<NetworkException>(() =>
            _store.Create("b", "10.21.0.0/24", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: "fd00::/16")));
        Assert.Equal("IPv6 subnet fd00::/16 overlaps IPv6 subnet fd00:1::/64 of network a", e.Message);
        var routes = new List<(IPAddress, int)> { (IPAddress.Parse("fd00:9::"), 64), (IPAddress.IPv6Any, 0), (IPAddress.Parse("fe80::"), 64) };
        e = Assert.Throws<NetworkException>(() =>
            _store.Create("c", "10.22.0.0/24", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: "fd00:9::/64"), hostRoutes6: routes));
        Assert.Equal("IPv6 subnet fd00:9::/64 overlaps host route fd00:9::/64", e.Message);
        // The default route and link-local routes are no conflict.
        _store.Create("d", "10.23.0.0/24", null, NoRoutes, spec: new NetworkSpec(EnableIPv6: true, Subnet6: "fd00:a::/64"), hostRoutes6: routes);
    }
}
