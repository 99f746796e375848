using System.Net;

namespace MiniDocker.Network.Tests;

public sealed class SubnetTests
{
    [Fact]
    public void Parse_ExposesNetworkBroadcastAndHosts()
    {
        Subnet subnet = Subnet.Parse("10.20.0.0/22");

        Assert.Equal(IPAddress.Parse("10.20.0.0"), subnet.Network);
        Assert.Equal(22, subnet.Prefix);
        Assert.Equal(IPAddress.Parse("10.20.3.255"), subnet.Broadcast);
        Assert.Equal(IPAddress.Parse("10.20.0.1"), subnet.FirstHost);
        Assert.Equal(1024, subnet.Size);
        Assert.Equal("10.20.0.0/22", subnet.ToString());
        Assert.Equal(IPAddress.Parse("10.20.1.4"), subnet.AddressAt(260));
        Assert.Equal(260, subnet.OffsetOf(IPAddress.Parse("10.20.1.4")));
    }

    [Theory]
    [InlineData("10.20.3.255", true)]
    [InlineData("10.20.0.0", true)]
    [InlineData("10.20.4.0", false)]
    [InlineData("10.19.255.255", false)]
    [InlineData("::1", false)]
    public void Contains(string address, bool expected) =>
        Assert.Equal(expected, Subnet.Parse("10.20.0.0/22").Contains(IPAddress.Parse(address)));

    [Theory]
    [InlineData("10.20.0.0/24", "10.20.0.0/16", true)]
    [InlineData("10.20.0.0/16", "10.20.255.0/24", true)]
    [InlineData("10.20.0.0/24", "10.20.1.0/24", false)]
    [InlineData("10.20.0.0/25", "10.20.0.128/25", false)]
    [InlineData("0.0.0.0/0", "10.20.0.0/24", true)]
    public void Overlaps_IsSymmetric(string a, string b, bool expected)
    {
        Assert.Equal(expected, Subnet.Parse(a).Overlaps(Subnet.Parse(b)));
        Assert.Equal(expected, Subnet.Parse(b).Overlaps(Subnet.Parse(a)));
    }

    [Theory]
    [InlineData("10.20.0.0", "invalid subnet '10.20.0.0': expected CIDR form ADDRESS/PREFIX, e.g. 10.20.0.0/24")]
    [InlineData("10.20.0.0/", "invalid subnet '10.20.0.0/': prefix '' must be a number 0-32")]
    [InlineData("10.20.0.0/x", "invalid subnet '10.20.0.0/x': prefix 'x' must be a number 0-32")]
    [InlineData("10.20.0.0/-1", "invalid subnet '10.20.0.0/-1': prefix '-1' must be a number 0-32")]
    [InlineData("10.20/16", "invalid subnet '10.20/16': '10.20' is not a dotted-quad IPv4 address")]
    [InlineData("nonsense/8", "invalid subnet 'nonsense/8': 'nonsense' is not an IP address")]
    [InlineData("2001:db8::/32", "invalid subnet '2001:db8::/32': only IPv4 is supported")]
    [InlineData("10.20.0.1/16", "invalid subnet '10.20.0.1/16': host bits are set, did you mean 10.20.0.0/16?")]
    public void Parse_RejectsWithOneLineReason(string text, string expected) =>
        Assert.Equal(expected, Assert.Throws<NetworkException>(() => Subnet.Parse(text)).Message);

    [Fact]
    public void Containing_ClearsHostBits() =>
        Assert.Equal(Subnet.Parse("192.0.2.0/24"), Subnet.Containing(IPAddress.Parse("192.0.2.77"), 24));
}
