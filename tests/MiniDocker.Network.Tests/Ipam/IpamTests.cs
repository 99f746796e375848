using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace MiniDocker.Network.Tests;

public sealed class IpamTests : IDisposable
{
    private readonly TempStateRoot _root = new();
    private readonly Ipam _ipam;

    public IpamTests() => _ipam = new Ipam(_root.Path);

    public void Dispose() => _root.Dispose();

    private static (Subnet Subnet, IPAddress Gateway) Net(string cidr)
    {
        Subnet subnet = Subnet.Parse(cidr);
        return (subnet, subnet.FirstHost);
    }

    [Fact]
    public void Allocate_SkipsNetworkGatewayAndBroadcast()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/29");
        var given = new List<IPAddress>();
        for (int i = 0; i < 5; i++)
            given.Add(_ipam.Allocate("n", subnet, gateway, $"c{i}", null));

        Assert.Equal(["10.20.0.2", "10.20.0.3", "10.20.0.4", "10.20.0.5", "10.20.0.6"], given.Select(a => a.ToString()));
        var error = Assert.Throws<NetworkException>(() => _ipam.Allocate("n", subnet, gateway, "c5", null));
        Assert.Equal("no free address in network n (10.20.0.0/29)", error.Message);
    }

    [Fact]
    public void Allocate_GatewayInTheMiddleIsSkipped()
    {
        Subnet subnet = Subnet.Parse("10.20.0.0/29");
        IPAddress gateway = IPAddress.Parse("10.20.0.3");

        var given = Enumerable.Range(0, 5).Select(i => _ipam.Allocate("n", subnet, gateway, $"c{i}", null).ToString()).ToList();

        Assert.Equal(["10.20.0.1", "10.20.0.2", "10.20.0.4", "10.20.0.5", "10.20.0.6"], given);
    }

    [Fact]
    public void Allocate_SlashThirtyHasExactlyOneAddress()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/30");

        Assert.Equal(IPAddress.Parse("10.20.0.2"), _ipam.Allocate("tiny", subnet, gateway, "c1", null));
        Assert.Equal("no free address in network tiny (10.20.0.0/30)",
            Assert.Throws<NetworkException>(() => _ipam.Allocate("tiny", subnet, gateway, "c2", null)).Message);
    }

    [Fact]
    public void Allocate_ContinuesAfterLastAndWrapsAroundToReleasedAddresses()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/29");
        for (int i = 0; i < 5; i++)
            _ipam.Allocate("n", subnet, gateway, $"c{i}", null);
        _ipam.Release("n", "c1"); // frees 10.20.0.3

        Assert.Equal(IPAddress.Parse("10.20.0.3"), _ipam.Allocate("n", subnet, gateway, "c9", null));
    }

    [Fact]
    public void Allocate_DoesNotReuseAJustReleasedAddressWhileOthersAreFree()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");
        IPAddress first = _ipam.Allocate("n", subnet, gateway, "c1", null);
        _ipam.Release("n", "c1");

        IPAddress second = _ipam.Allocate("n", subnet, gateway, "c2", null);

        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Allocate_SameOwnerGetsSameAddressBack()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");
        IPAddress first = _ipam.Allocate("n", subnet, gateway, "c1", null);

        Assert.Equal(first, _ipam.Allocate("n", subnet, gateway, "c1", null));
        Assert.Single(_ipam.Allocations("n"));
        Assert.Equal($"container c1 already has address {first} in network n",
            Assert.Throws<NetworkException>(() => _ipam.Allocate("n", subnet, gateway, "c1", IPAddress.Parse("10.20.0.77"))).Message);
    }

    [Fact]
    public void Allocate_RequestedAddress()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");

        Assert.Equal(IPAddress.Parse("10.20.0.5"), _ipam.Allocate("x", subnet, gateway, "c1", IPAddress.Parse("10.20.0.5")));
        Assert.Equal("c1", _ipam.Allocations("x")[IPAddress.Parse("10.20.0.5")]);
    }

    [Theory]
    [InlineData("10.20.0.5", "address 10.20.0.5 is already in use in network X")]
    [InlineData("10.21.0.5", "address 10.21.0.5 is outside subnet 10.20.0.0/24 of network X")]
    [InlineData("10.20.0.0", "address 10.20.0.0 is the network address of network X (10.20.0.0/24)")]
    [InlineData("10.20.0.255", "address 10.20.0.255 is the broadcast address of network X (10.20.0.0/24)")]
    [InlineData("10.20.0.1", "address 10.20.0.1 is the gateway of network X")]
    [InlineData("fd00::5", "address fd00::5 is not IPv4")]
    public void Allocate_RequestedAddressIsRefused(string requested, string expected)
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");
        _ipam.Allocate("X", subnet, gateway, "c1", IPAddress.Parse("10.20.0.5"));

        var error = Assert.Throws<NetworkException>(() => _ipam.Allocate("X", subnet, gateway, "c2", IPAddress.Parse(requested)));

        Assert.Equal(expected, error.Message);
        Assert.Single(_ipam.Allocations("X"));
    }

    [Fact]
    public void Release_ByOwnerAndByAddress()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");
        IPAddress a = _ipam.Allocate("n", subnet, gateway, "c1", null);
        IPAddress b = _ipam.Allocate("n", subnet, gateway, "c2", null);

        _ipam.Release("n", "c1");
        _ipam.Release("n", "c1");

        Assert.Equal([b], _ipam.Allocations("n").Keys);
        Assert.True(_ipam.ReleaseAddress("n", b));
        Assert.False(_ipam.ReleaseAddress("n", b));
        Assert.False(_ipam.ReleaseAddress("n", a));
        Assert.Empty(_ipam.Allocations("n"));
    }

    [Fact]
    public void DeleteNetwork_ForgetsAllocations()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");
        _ipam.Allocate("n", subnet, gateway, "c1", null);

        _ipam.DeleteNetwork("n");

        Assert.Empty(_ipam.Allocations("n"));
        Assert.Equal(IPAddress.Parse("10.20.0.2"), _ipam.Allocate("n", subnet, gateway, "c2", null));
    }

    [Fact]
    public void Allocate_StateOfADifferentSubnetIsRefused()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.20.0.0/24");
        _ipam.Allocate("n", subnet, gateway, "c1", null);
        (Subnet other, IPAddress otherGateway) = Net("10.30.0.0/24");

        var error = Assert.Throws<NetworkException>(() => _ipam.Allocate("n", other, otherGateway, "c2", null));

        Assert.Equal("IPAM state of network n is for subnet 10.20.0.0/24, not 10.30.0.0/24: remove and recreate the network", error.Message);
    }

    [Fact]
    public void Allocate_SlashSixteenCrossesOctetBoundaries()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.40.0.0/16");

        Assert.Equal(IPAddress.Parse("10.40.0.255"), _ipam.Allocate("big", subnet, gateway, "c1", IPAddress.Parse("10.40.0.255")));
        Assert.Equal(IPAddress.Parse("10.40.1.0"), _ipam.Allocate("big", subnet, gateway, "c2", IPAddress.Parse("10.40.1.0")));
        Assert.Equal(IPAddress.Parse("10.40.0.2"), _ipam.Allocate("big", subnet, gateway, "c3", null));
    }

    /// <summary>
    /// A /16 with every address but one taken (state written directly: 65k real allocations would take minutes of
    /// fsyncs). The search starts after the last allocation near the end, wraps around and must find the single
    /// hole quickly; the next call must report the network full.
    /// </summary>
    [Fact]
    public void Allocate_NearlyFullSlashSixteenFindsTheOneHole()
    {
        (Subnet subnet, IPAddress gateway) = Net("10.40.0.0/16");
        var hole = IPAddress.Parse("10.40.0.9");
        var allocations = new Dictionary<string, string>();
        for (long offset = 2; offset < subnet.Size - 1; offset++)
        {
            IPAddress address = subnet.AddressAt(offset);
            if (!address.Equals(hole))
                allocations[address.ToString()] = $"c{offset}";
        }
        string directory = Path.Combine(_root.Path, "networks", "ipam");
        Directory.CreateDirectory(directory);
        var state = new IpamState { Subnet = subnet, Gateway = gateway, LastOffset = subnet.Size - 3, Allocations = allocations };
        File.WriteAllBytes(Path.Combine(directory, "big.json"), JsonSerializer.SerializeToUtf8Bytes(state, NetworkJson.Default.IpamState));

        // Speed is bench/'s business (no timing assertion here): this checks the one hole is found.
        IPAddress given = _ipam.Allocate("big", subnet, gateway, "newcomer", null);

        Assert.Equal(hole, given);
        Assert.Equal(65533, _ipam.Allocations("big").Count);
        Assert.Equal("no free address in network big (10.40.0.0/16)",
            Assert.Throws<NetworkException>(() => _ipam.Allocate("big", subnet, gateway, "late", null)).Message);
    }
}
