using System.Net;

namespace MiniDocker.Network.Tests;

public sealed class PortSpecTests
{
    [Theory]
    [InlineData("8080:80", null, 8080, 80, "tcp")]
    [InlineData("127.0.0.1:8080:80", "127.0.0.1", 8080, 80, "tcp")]
    [InlineData("127.0.0.1::80", "127.0.0.1", 0, 80, "tcp")]
    [InlineData("0.0.0.0:8080:80", null, 8080, 80, "tcp")]
    [InlineData("80", null, 0, 80, "tcp")]
    [InlineData("53:53/udp", null, 53, 53, "udp")]
    [InlineData("8443:443/tcp", null, 8443, 443, "tcp")]
    [InlineData("8443:443/TCP", null, 8443, 443, "tcp")]
    [InlineData("10.1.2.3:5353:53/udp", "10.1.2.3", 5353, 53, "udp")]
    [InlineData("65535:1", null, 65535, 1, "tcp")]
    public void Parse_SingleMapping(string spec, string? hostIp, int hostPort, int containerPort, string protocol)
    {
        PortMapping mapping = Assert.Single(PortSpec.Parse(spec));

        Assert.Equal(new PortMapping(hostIp is null ? null : IPAddress.Parse(hostIp), hostPort, containerPort, protocol), mapping);
    }

    [Fact]
    public void Parse_RangesExpandPairwise()
    {
        IReadOnlyList<PortMapping> mappings = PortSpec.Parse("127.0.0.1:8000-8005:80-85/udp");

        Assert.Equal(6, mappings.Count);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => new PortMapping(IPAddress.Loopback, 8000 + i, 80 + i, "udp")), mappings);
    }

    [Fact]
    public void Parse_ContainerRangeAloneLeavesHostPortsToBeChosen()
    {
        IReadOnlyList<PortMapping> mappings = PortSpec.Parse("7000-7002");

        Assert.Equal([new(null, 0, 7000, "tcp"), new(null, 0, 7001, "tcp"), new(null, 0, 7002, "tcp")], mappings);
    }

    [Fact]
    public void ParseAll_ConcatenatesRepeatedFlags()
    {
        IReadOnlyList<PortMapping> mappings = PortSpec.ParseAll(["8080:80", "53:53/udp", "9000"]);

        Assert.Equal([new(null, 8080, 80, "tcp"), new(null, 53, 53, "udp"), new(null, 0, 9000, "tcp")], mappings);
    }

    [Theory]
    [InlineData("70000:80", "invalid port 70000: must be 1-65535")]
    [InlineData("8080:70000", "invalid port 70000: must be 1-65535")]
    [InlineData("0:80", "invalid port 0: must be 1-65535")]
    [InlineData("8080:http", "invalid port 'http': not a number")]
    [InlineData("8080:-80", "invalid port spec '8080:-80': missing port number")]
    [InlineData("8000-8005:80-84", "invalid port spec '8000-8005:80-84': host range 8000-8005 has 6 ports but container range 80-84 has 5")]
    [InlineData("8000-8005:80", "invalid port spec '8000-8005:80': host range 8000-8005 has 6 ports but container range 80 has 1")]
    [InlineData("85-80", "invalid port range 85-80: end is before start")]
    [InlineData("80/sctpx", "unknown protocol 'sctpx'")]
    [InlineData("80/", "unknown protocol ''")]
    [InlineData("300.1.1.1:80:80", "invalid host IP '300.1.1.1'")]
    [InlineData("localhost:80:80", "invalid host IP 'localhost'")]
    [InlineData("[::1]:80:80", "invalid host IP '[::1]': only IPv4 is supported")]
    [InlineData("127.1:80:80", "invalid host IP '127.1': not a dotted-quad IPv4 address")]
    [InlineData("1:2:3:4", "invalid port spec '1:2:3:4': expected [[HOSTIP:][HOSTPORT]:]CONTAINERPORT[/PROTOCOL]")]
    [InlineData("", "invalid port spec '': missing port number")]
    public void Parse_RejectsWithOneLineError(string spec, string expected) =>
        Assert.Equal(expected, Assert.Throws<NetworkException>(() => PortSpec.Parse(spec)).Message);
}
