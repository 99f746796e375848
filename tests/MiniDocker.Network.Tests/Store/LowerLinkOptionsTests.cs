using System.Net;
using MiniDocker.Netlink;

namespace MiniDocker.Network.Tests;

/// <summary>`network create --driver macvlan|ipvlan -o ...`: the options, and the records the store keeps.</summary>
public sealed class LowerLinkOptionsTests : IDisposable
{
    private readonly TempStateRoot _root = new();
    private readonly NetworkStore _store;

    public LowerLinkOptionsTests() => _store = new NetworkStore(_root.Path);

    public void Dispose() => _root.Dispose();

    private static Dictionary<string, string> O(params string[] kv) =>
        kv.Select(s => s.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    // The host's routes: a network on the LAN of a routed parent is the point, so they do not refuse it.
    private static readonly (IPAddress, int)[] HostRoutes = [(IPAddress.Parse("192.0.2.0"), 24)];

    [Fact]
    public void Defaults_are_bridge_mode_and_l2()
    {
        Assert.Equal(new LowerLinkOptions.Parsed("eth1", MacvlanMode.Bridge, IpvlanMode.L2, 0),
            LowerLinkOptions.Parse("macvlan", O("parent=eth1")));
        Assert.Equal(new LowerLinkOptions.Parsed("eth1", MacvlanMode.Bridge, IpvlanMode.L2, 0),
            LowerLinkOptions.Parse("ipvlan", O("parent=eth1")));
    }

    [Theory]
    [InlineData("macvlan", "macvlan_mode=private", MacvlanMode.Private, IpvlanMode.L2)]
    [InlineData("macvlan", "macvlan_mode=vepa", MacvlanMode.Vepa, IpvlanMode.L2)]
    [InlineData("ipvlan", "ipvlan_mode=l3", MacvlanMode.Bridge, IpvlanMode.L3)]
    [InlineData("ipvlan", "ipvlan_mode=l3s", MacvlanMode.Bridge, IpvlanMode.L3S)]
    public void Modes(string driver, string option, MacvlanMode macvlan, IpvlanMode ipvlan)
    {
        var parsed = LowerLinkOptions.Parse(driver, O("parent=eth1", option, "com.docker.network.driver.mtu=1400"));
        Assert.Equal((macvlan, ipvlan, 1400), (parsed.MacvlanMode, parsed.IpvlanMode, parsed.Mtu));
    }

    [Theory]
    [InlineData("macvlan", "", "network driver macvlan needs a parent interface: -o parent=IF")]
    [InlineData("macvlan", "parent=eth0 eth1", "invalid parent 'eth0 eth1'")]
    [InlineData("macvlan", "parent=averyveryverylongname", "invalid parent")]
    [InlineData("macvlan", "parent=eth1,macvlan_mode=passthru", "macvlan_mode passthru is not supported")]
    [InlineData("macvlan", "parent=eth1,macvlan_mode=l2", "invalid macvlan_mode 'l2': use bridge, private or vepa")]
    [InlineData("macvlan", "parent=eth1,ipvlan_mode=l2", "unknown option 'ipvlan_mode' for driver macvlan")]
    [InlineData("ipvlan", "parent=eth1,macvlan_mode=bridge", "unknown option 'macvlan_mode' for driver ipvlan")]
    [InlineData("ipvlan", "parent=eth1,ipvlan_mode=l4", "invalid ipvlan_mode 'l4': use l2, l3 or l3s")]
    [InlineData("ipvlan", "parent=eth1,mtu=20", "invalid MTU '20'")]
    [InlineData("macvlan", "parent=eth1,bridge-name=x", "unknown option 'bridge-name' for driver macvlan")]
    public void Bad_options_say_which(string driver, string options, string message)
    {
        var parsed = options.Length == 0 ? O() : O(options.Split(','));
        var e = Assert.Throws<NetworkException>(() => LowerLinkOptions.Parse(driver, parsed));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_record_has_the_driver_and_options_and_no_bridge()
    {
        var r = _store.Create("lan", "192.0.2.0/24", "192.0.2.254", HostRoutes, "macvlan", O("parent=eth1"));
        Assert.Equal(("macvlan", "", IPAddress.Parse("192.0.2.254")), (r.Driver, r.Bridge, r.Gateway));
        Assert.Equal("eth1", r.Options["parent"]);
        Assert.False(r.HasDns);
        var reread = new NetworkStore(_root.Path).Get("lan");
        Assert.Equal(("macvlan", "", "eth1"), (reread.Driver, reread.Bridge, reread.Options["parent"]));
    }

    [Fact]
    public void Gateway_defaults_to_the_first_address_as_Docker()
    {
        var r = _store.Create("lan", "192.0.2.0/24", null, HostRoutes, "ipvlan", O("parent=eth1", "ipvlan_mode=l2"));
        Assert.Equal(IPAddress.Parse("192.0.2.1"), r.Gateway);
    }

    [Fact]
    public void Overlapping_subnets_are_refused_and_nothing_is_written()
    {
        _store.Create("lan1", "192.0.2.0/24", null, HostRoutes, "macvlan", O("parent=eth1"));
        var e = Assert.Throws<NetworkException>(() => _store.Create("lan2", "192.0.2.128/25", null, HostRoutes, "macvlan", O("parent=eth1")));
        Assert.Equal("subnet 192.0.2.128/25 overlaps subnet 192.0.2.0/24 of network lan1", e.Message);
        Assert.Equal(["lan1"], _store.List().Select(n => n.Name));
    }

    [Fact]
    public void Macvlan_and_ipvlan_cannot_share_a_parent()
    {
        _store.Create("lan1", "192.0.2.0/25", null, HostRoutes, "macvlan", O("parent=eth1"));
        var e = Assert.Throws<NetworkException>(() => _store.Create("lan2", "192.0.2.128/25", null, HostRoutes, "ipvlan", O("parent=eth1")));
        Assert.StartsWith("parent interface eth1 already carries macvlan network lan1", e.Message);
        // Another parent is fine, as is a second macvlan network on the same one.
        _store.Create("lan3", "198.51.100.0/24", null, HostRoutes, "ipvlan", O("parent=eth2"));
        _store.Create("lan4", "192.0.2.128/25", null, HostRoutes, "macvlan", O("parent=eth1"));
    }

    [Fact]
    public void Internal_and_unknown_drivers_are_refused()
    {
        Assert.Contains("--internal is not supported with driver macvlan",
            Assert.Throws<NetworkException>(() => _store.Create("lan", "192.0.2.0/24", null, HostRoutes, "macvlan", O("parent=eth1"),
                new NetworkSpec(Internal: true))).Message);
        Assert.Equal("unknown network driver 'overlay': use bridge, macvlan or ipvlan",
            Assert.Throws<NetworkException>(() => _store.Create("lan", "192.0.2.0/24", null, HostRoutes, "overlay")).Message);
        Assert.Empty(_store.List());
    }
}
